package cli

import (
	"path/filepath"
	"testing"

	"github.com/BurntSushi/toml"
)

// TestFyneAppIdentity: the launchd label of the helper is the app ID
// FyneApp.toml gives the bundle (CFBundleIdentifier), and a source
// build's version is FyneApp.toml's Version with -dev.
func TestFyneAppIdentity(t *testing.T) {
	var m struct {
		Details struct{ ID, Version string }
	}
	if _, err := toml.DecodeFile(filepath.Join("..", "..", "FyneApp.toml"), &m); err != nil {
		t.Fatal(err)
	}
	if m.Details.ID != launchdLabel {
		t.Errorf("FyneApp.toml ID %q, launchd label %q", m.Details.ID, launchdLabel)
	}
	if m.Details.Version+"-dev" != defaultVersion {
		t.Errorf("FyneApp.toml Version %q, defaultVersion %q", m.Details.Version, defaultVersion)
	}
}
