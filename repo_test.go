package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection enforces the design card: app -> core -> tunnel,
// platform. tunnel and platform import neither core, app nor Fyne, nor each
// other; core imports neither app nor Fyne.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/corridorvpn/corridor/"
	rules := []struct {
		pkgs      string
		forbidden []string
	}{
		{"./tunnel/...", []string{mod + "core", mod + "app", mod + "platform", "fyne.io/"}},
		{"./platform/...", []string{mod + "core", mod + "app", mod + "tunnel", "fyne.io/"}},
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
