package desktop

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/corridorvpn/corridor/assets"
)

// fyneApp is what the Fyne tool reads from FyneApp.toml to package the
// app (fyne.io/tools v1.7.4: Linux tar.xz, macOS .app).
type fyneApp struct {
	Website string
	Details struct {
		Icon    string
		Name    string
		ID      string
		Version string
		Build   int
	}
}

// TestFyneAppMetadata: FyneApp.toml, which the Fyne tool packages from
// (the .app's CFBundleIdentifier, CFBundleName, CFBundleShortVersionString
// and CFBundleVersion come from it), says what the app says of itself,
// and its icon is the one the app embeds: a square PNG of at least
// 256x256 (the Fyne tool scales it to 824x824 inside a 1024x1024 icns for
// macOS, so a larger one would only be sharper there).
func TestFyneAppMetadata(t *testing.T) {
	root := filepath.Join("..", "..")
	var m fyneApp
	md, err := toml.DecodeFile(filepath.Join(root, "FyneApp.toml"), &m)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range md.Undecoded() {
		if k.String() == "Details" || len(k) > 1 && k[0] == "Details" {
			t.Errorf("FyneApp.toml has %s, which this test does not know", k)
		}
	}
	d := m.Details
	if d.ID != AppID || d.Name != Name || d.Version != Version || d.Build != Build {
		t.Errorf("FyneApp.toml [Details] ID %q Name %q Version %q Build %d; the app says %q %q %q %d",
			d.ID, d.Name, d.Version, d.Build, AppID, Name, Version, Build)
	}
	if d.Icon == "" {
		t.Fatal("FyneApp.toml names no Icon: fyne package needs one for every system")
	}
	data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(d.Icon)))
	if err != nil {
		t.Fatalf("FyneApp.toml's icon: %v", err)
	}
	if !bytes.Equal(data, assets.Icon.Content()) {
		t.Errorf("FyneApp.toml's icon %s is not the icon the app embeds (assets.Icon)", d.Icon)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the icon %s is not a PNG: %v", d.Icon, err)
	}
	if cfg.Width != cfg.Height || cfg.Width < 256 {
		t.Errorf("the icon is %dx%d, want square and at least 256x256", cfg.Width, cfg.Height)
	}
}
