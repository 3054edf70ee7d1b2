// Command macbundle finishes the macOS app bundle that `fyne package -os
// darwin` writes: it merges the keys of build/darwin/Info.plist over the
// bundle's Contents/Info.plist (the Fyne tool cannot add keys of its
// own) and then checks the bundle: the keys macOS needs, the executable
// they name, and the icon. build/package.sh darwin runs it.
//
// Usage: go run ./build/macbundle [-extra build/darwin/Info.plist] Corridor.app
//
// It has only ever run on Linux, on a bundle holding a cross-built
// command-line binary: no Mac has opened what it writes.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"howett.net/plist"
)

func main() {
	extra := flag.String("extra", "build/darwin/Info.plist", "plist whose keys replace or add to the bundle's")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: macbundle [-extra build/darwin/Info.plist] Corridor.app")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	data, err := os.ReadFile(*extra)
	if err == nil {
		err = finish(flag.Arg(0), data)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "macbundle:", err)
		os.Exit(1)
	}
}

// finish merges extra into app's Info.plist, rewrites it and checks the
// bundle.
func finish(app string, extra []byte) error {
	path := filepath.Join(app, "Contents", "Info.plist")
	base, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	merged, err := mergeInfo(base, extra)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, merged, 0o644); err != nil {
		return err
	}
	return checkBundle(app)
}

// mergeInfo returns base with every top-level key of extra set to
// extra's value, as an XML plist (keys sorted, so the output depends on
// the contents only).
func mergeInfo(base, extra []byte) ([]byte, error) {
	var b, e map[string]any
	if _, err := plist.Unmarshal(base, &b); err != nil {
		return nil, fmt.Errorf("the bundle's Info.plist: %w", err)
	}
	if _, err := plist.Unmarshal(extra, &e); err != nil {
		return nil, fmt.Errorf("the extra keys: %w", err)
	}
	for k, v := range e {
		b[k] = v
	}
	var out bytes.Buffer
	enc := plist.NewEncoderForFormat(&out, plist.XMLFormat)
	enc.Indent("\t")
	if err := enc.Encode(b); err != nil {
		return nil, err
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// required are the Info.plist keys the bundle must carry, as strings.
var required = []string{
	"CFBundleIdentifier", "CFBundleName", "CFBundleExecutable",
	"CFBundleShortVersionString", "CFBundleVersion", "CFBundlePackageType",
	"CFBundleIconFile", "LSMinimumSystemVersion", "LSApplicationCategoryType",
	"NSHumanReadableCopyright",
}

// checkBundle checks app/Contents: Info.plist has the required keys
// (no category left empty), the executable it names is there and
// executable, and the icon it names is an icns file.
func checkBundle(app string) error {
	data, err := os.ReadFile(filepath.Join(app, "Contents", "Info.plist"))
	if err != nil {
		return err
	}
	var info map[string]any
	if _, err := plist.Unmarshal(data, &info); err != nil {
		return fmt.Errorf("Info.plist: %w", err)
	}
	var errs []error
	str := func(k string) string { s, _ := info[k].(string); return s }
	for _, k := range required {
		if str(k) == "" {
			errs = append(errs, fmt.Errorf("Info.plist has no %s", k))
		}
	}
	if c := str("LSApplicationCategoryType"); strings.HasSuffix(c, ".") {
		errs = append(errs, fmt.Errorf("Info.plist's LSApplicationCategoryType %q names no category", c))
	}
	if p := str("CFBundlePackageType"); p != "" && p != "APPL" {
		errs = append(errs, fmt.Errorf("Info.plist's CFBundlePackageType is %q, not APPL", p))
	}
	if exe := str("CFBundleExecutable"); exe != "" {
		fi, err := os.Stat(filepath.Join(app, "Contents", "MacOS", exe))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("the executable: %w", err))
		case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
			errs = append(errs, fmt.Errorf("Contents/MacOS/%s is not an executable file (%v)", exe, fi.Mode()))
		}
	}
	if icon := str("CFBundleIconFile"); icon != "" {
		if err := checkIcns(filepath.Join(app, "Contents", "Resources", icon)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkIcns checks that path starts like an icns file: the magic "icns"
// and a big-endian total length equal to the file's size.
func checkIcns(path string) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the icon: %w", err)
	}
	if err != nil {
		return err
	}
	if len(data) < 8 || string(data[:4]) != "icns" {
		return fmt.Errorf("%s is not an icns file", path)
	}
	if n := int(data[4])<<24 | int(data[5])<<16 | int(data[6])<<8 | int(data[7]); n != len(data) {
		return fmt.Errorf("%s says it has %d bytes but has %d", path, n, len(data))
	}
	return nil
}
