// Command nfpm builds Corridor's .deb and .rpm packages with nfpm
// (github.com/goreleaser/nfpm/v2) used as a library. It is its own module,
// so the product never imports it and its dependencies stay out of
// Corridor's go.mod. build/package.sh runs it from the repository root:
//
//	go run ./build/nfpm -version 0.1.0 -out build/out   (in build/nfpm)
//
// It renders the hicolor icons from assets/icon.png (256x256) into
// build/out/pkgroot/, then packages what build/nfpm/nfpm.yaml lists.
package main

import (
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb"
	_ "github.com/goreleaser/nfpm/v2/rpm"
	"golang.org/x/image/draw"
)

// iconSizes are the hicolor sizes rendered from the 256x256 icon.
var iconSizes = []int{16, 22, 24, 32, 48, 64, 128, 256}

func main() {
	root := flag.String("root", ".", "the repository `DIR`")
	out := flag.String("out", "build/out", "write the packages to `DIR`")
	version := flag.String("version", "0.1.0", "package `VERSION`")
	arch := flag.String("arch", "amd64", "package `ARCH` (Go's name)")
	flag.Parse()
	if err := run(*root, *out, *version, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "nfpm:", err)
		os.Exit(1)
	}
}

func run(root, out, version, arch string) error {
	if err := os.Chdir(root); err != nil {
		return err
	}
	stage := filepath.Join("build", "out", "pkgroot") // nfpm.yaml names it
	if err := renderIcons("assets/icon.png", filepath.Join(stage, "icons")); err != nil {
		return err
	}
	env := map[string]string{"VERSION": version, "ARCH": arch}
	cfg, err := nfpm.ParseFileWithEnvMapping("build/nfpm/nfpm.yaml", func(k string) string { return env[k] })
	if err != nil {
		return err
	}
	for _, format := range []string{"deb", "rpm"} {
		info, err := cfg.Get(format)
		if err != nil {
			return err
		}
		info = nfpm.WithDefaults(info)
		pkg, err := nfpm.Get(format)
		if err != nil {
			return err
		}
		target := filepath.Join(out, pkg.ConventionalFileName(info))
		f, err := os.Create(target)
		if err != nil {
			return err
		}
		info.Target = target
		err = pkg.Package(info, f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(target)
			return fmt.Errorf("%s: %w", format, err)
		}
		fmt.Println(target)
	}
	return nil
}

// renderIcons writes dir/SIZE.png for each of iconSizes.
func renderIcons(src, dir string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, n := range iconSizes {
		dst := image.NewNRGBA(image.Rect(0, 0, n, n))
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
		o, err := os.Create(filepath.Join(dir, fmt.Sprintf("%d.png", n)))
		if err != nil {
			return err
		}
		err = png.Encode(o, dst)
		if cerr := o.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
