package desktop

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestAutostartPath(t *testing.T) {
	home := func() (string, error) { return "/home/alice", nil }
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "XDG_CONFIG_HOME" {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct{ xdg, want string }{
		{"", "/home/alice/.config/autostart/corridor.desktop"},
		{"/srv/cfg", "/srv/cfg/autostart/corridor.desktop"},
		{"relative/cfg", "/home/alice/.config/autostart/corridor.desktop"}, // not absolute: ignored
	} {
		if got, err := autostartPath(env(tc.xdg), home); got != tc.want || err != nil {
			t.Errorf("XDG_CONFIG_HOME=%q: %q %v, want %q", tc.xdg, got, err, tc.want)
		}
	}
	if _, err := autostartPath(env(""), func() (string, error) { return "", errors.New("no home") }); err == nil {
		t.Error("no home and no XDG_CONFIG_HOME: no error")
	}
}

// "corridor" when that is this program on $PATH, its full path otherwise.
func TestAutostartCommand(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "corridor")
	other := filepath.Join(dir, "other-corridor")
	for _, f := range []string{exe, other} {
		if err := os.WriteFile(f, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	look := func(path string, err error) func(string) (string, error) {
		return func(string) (string, error) { return path, err }
	}
	for _, tc := range []struct {
		name string
		look func(string) (string, error)
		want string
	}{
		{"on PATH", look(exe, nil), "corridor"},
		{"another corridor on PATH", look(other, nil), exe},
		{"not on PATH", look("", errors.New("not found")), exe},
	} {
		got := autostartCommand(exe, tc.look)
		if len(got) != 3 || got[0] != tc.want || got[1] != "gui" || got[2] != "--hidden" {
			t.Errorf("%s: %q, want [%s gui --hidden]", tc.name, got, tc.want)
		}
	}
}
