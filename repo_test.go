package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces the design card: app -> core ->
// tunnel, platform, with core split along the root/user line: profile
// below core, daemon above it, nothing in core/profile runs as root.
//
//   - tunnel and platform import neither core, app nor Fyne, nor each
//     other.
//   - core/profile (profiles, their files, import/export, keychain
//     secrets: the user's side) imports nothing of core, neither
//     core/daemon nor app nor Fyne.
//   - core (the sessions, the service, the error model) imports neither
//     core/daemon nor app nor Fyne; it may import core/profile.
//   - core/daemon (the helper's socket) may import core, never app or
//     Fyne; nothing in core/... imports app.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/corridorvpn/corridor/"
	rules := []struct {
		pkgs      string
		forbidden []string
	}{
		{"./tunnel/...", []string{mod + "core", mod + "app", mod + "platform", "fyne.io/"}},
		{"./platform/...", []string{mod + "core", mod + "app", mod + "tunnel", "fyne.io/"}},
		// "=" matches one package exactly: core/profile lies below core,
		// so forbidding core must not forbid core/profile by prefix.
		{"./core/profile/...", []string{"=" + mod + "core", mod + "core/daemon", mod + "app", "fyne.io/"}},
		{"./core", []string{mod + "core/daemon", mod + "app", "fyne.io/"}},
		{"./core/...", []string{mod + "app", "fyne.io/"}},
	}
	for _, r := range rules {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", r.pkgs).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", r.pkgs, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 {
			t.Fatalf("go list -deps %s listed nothing", r.pkgs)
		}
		for _, d := range deps {
			for _, f := range r.forbidden {
				if exact, ok := strings.CutPrefix(f, "="); ok {
					if d == exact {
						t.Errorf("%s depends on %s", r.pkgs, d)
					}
					continue
				}
				if d == f || strings.HasPrefix(d, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(d, f)) {
					t.Errorf("%s depends on %s", r.pkgs, d)
				}
			}
		}
	}
}

// TestGofmt fails on any Go file gofmt would change.
func TestGofmt(t *testing.T) {
	out, err := exec.Command("gofmt", "-l", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("gofmt: %v\n%s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("gofmt would change:\n%s", s)
	}
}
