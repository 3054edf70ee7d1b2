package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"howett.net/plist"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fyneInfo is the Info.plist fyne.io/tools v1.7.4 (`fyne package -os
// darwin --executable ... --release`, run on Linux with this
// repository's FyneApp.toml) wrote.
func fyneInfo(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fyne-Info.plist"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func extraKeys(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "darwin", "Info.plist"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestMergeInfoGolden merges build/darwin/Info.plist over the plist the
// Fyne tool writes and compares with testdata/Info.plist.golden.
func TestMergeInfoGolden(t *testing.T) {
	got, err := mergeInfo(fyneInfo(t), extraKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "Info.plist.golden")
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("merged Info.plist differs from %s (go test ./build/macbundle -update rewrites it):\n%s", path, got)
	}
	var info map[string]any
	if _, err := plist.Unmarshal(got, &info); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"LSMinimumSystemVersion":    "12.0",
		"LSApplicationCategoryType": "public.app-category.utilities",
		"NSHumanReadableCopyright":  "Copyright © 2026 the Corridor authors",
		"CFBundleIdentifier":        "io.github.corridorvpn.corridor", // Fyne's, kept
		"NSHighResolutionCapable":   true,
	} {
		if info[k] != want {
			t.Errorf("%s = %#v, want %#v", k, info[k], want)
		}
	}
	if _, ok := info["LSUIElement"]; ok {
		t.Error("LSUIElement is set: the app would lose its Dock icon and menu bar")
	}
}

// TestMergeInfoBad refuses input that is not a plist dictionary.
func TestMergeInfoBad(t *testing.T) {
	if _, err := mergeInfo([]byte("not a plist <"), extraKeys(t)); err == nil || !strings.Contains(err.Error(), "the bundle's Info.plist") {
		t.Errorf("bad base: %v", err)
	}
	if _, err := mergeInfo(fyneInfo(t), []byte("<plist><array></plist>")); err == nil || !strings.Contains(err.Error(), "the extra keys") {
		t.Errorf("bad extra: %v", err)
	}
}

// bundle lays out a bundle the way the Fyne tool does: Info.plist, the
// executable in MacOS/, icon.icns in Resources/.
func bundle(t *testing.T, info []byte, exeMode os.FileMode, icns []byte) string {
	t.Helper()
	app := filepath.Join(t.TempDir(), "Corridor.app")
	for _, d := range []string{"MacOS", "Resources"} {
		if err := os.MkdirAll(filepath.Join(app, "Contents", d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel string, data []byte, mode os.FileMode) {
		if data == nil {
			return
		}
		if err := os.WriteFile(filepath.Join(app, "Contents", rel), data, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(app, "Contents", rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("Info.plist", info, 0o644)
	write(filepath.Join("MacOS", "corridor"), []byte("\xcf\xfa\xed\xfe"), exeMode)
	write(filepath.Join("Resources", "icon.icns"), icns, 0o644)
	return app
}

// icns is the smallest well-formed icns: the header alone.
var icns = []byte{'i', 'c', 'n', 's', 0, 0, 0, 8}

// TestFinish merges and checks a bundle laid out like the Fyne tool's.
func TestFinish(t *testing.T) {
	app := bundle(t, fyneInfo(t), 0o755, icns)
	if err := checkBundle(app); err == nil || !strings.Contains(err.Error(), "NSHumanReadableCopyright") ||
		!strings.Contains(err.Error(), `"public.app-category." names no category`) {
		t.Errorf("the Fyne tool's bundle before merging passed: %v", err)
	}
	if err := finish(app, extraKeys(t)); err != nil {
		t.Fatalf("finish: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(app, "Contents", "Info.plist"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "Info.plist.golden"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Info.plist after finish differs from the golden file:\n%s", got)
	}
	// Idempotent: a second run changes nothing.
	if err := finish(app, extraKeys(t)); err != nil {
		t.Fatalf("second finish: %v", err)
	}
	again, _ := os.ReadFile(filepath.Join(app, "Contents", "Info.plist"))
	if !bytes.Equal(again, got) {
		t.Error("a second finish changed Info.plist")
	}
}

// TestCheckBundleRefusals: a missing or non-executable binary, a
// missing icon and a file that is not icns are each named.
func TestCheckBundleRefusals(t *testing.T) {
	merged, err := mergeInfo(fyneInfo(t), extraKeys(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		exeMode os.FileMode
		icns    []byte
		noExe   bool
		want    string
	}{
		{name: "not executable", exeMode: 0o644, icns: icns, want: "is not an executable file"},
		{name: "no icon", exeMode: 0o755, want: "the icon:"},
		{name: "png as icon", exeMode: 0o755, icns: []byte("\x89PNG\r\n\x1a\n"), want: "is not an icns file"},
		{name: "short icns", exeMode: 0o755, icns: []byte{'i', 'c', 'n', 's', 0, 0, 1, 0}, want: "says it has 256 bytes but has 8"},
		{name: "no executable", exeMode: 0o755, icns: icns, noExe: true, want: "the executable:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := bundle(t, merged, tc.exeMode, tc.icns)
			if tc.noExe {
				if err := os.Remove(filepath.Join(app, "Contents", "MacOS", "corridor")); err != nil {
					t.Fatal(err)
				}
			}
			err := checkBundle(app)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("checkBundle = %v, want an error with %q", err, tc.want)
			}
		})
	}
	if err := checkBundle(bundle(t, merged, 0o755, icns)); err != nil {
		t.Errorf("a complete bundle: %v", err)
	}
}
