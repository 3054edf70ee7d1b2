package platform

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "profile.toml")
	if err := WriteFileAtomic(path, []byte("one\n"), 0o660); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keep"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("two\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "two\n" {
		t.Errorf("content %q, %v; want %q", got, err, "two\n")
	}
	if runtime.GOOS != "windows" {
		// Exactly perm, whatever the umask (022 or 077 usually).
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("mode %v, %v; want 0640", fi.Mode(), err)
		}
	}
	des, _ := os.ReadDir(dir)
	if len(des) != 2 {
		var names []string
		for _, de := range des {
			names = append(names, de.Name())
		}
		t.Errorf("directory holds %q; want the file and keep only (no temporary file left)", names)
	}
	err := WriteFileAtomic(filepath.Join(dir, "missing", "x"), []byte("x"), 0o600)
	if err == nil || !strings.HasPrefix(err.Error(), "platform: writing ") {
		t.Errorf("write into a missing directory: %v", err)
	}
}

// TestWriteFileAtomicFailureKeepsOldFile: a write that fails at its last
// step (the rename: disk full, a read-only folder) leaves the old file as
// it was and no temporary file.
func TestWriteFileAtomicFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "work.toml")
	if err := WriteFileAtomic(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected: disk full")
	renameFile = func(string, string) error { return injected }
	defer func() { renameFile = os.Rename }()
	if err := WriteFileAtomic(path, []byte("new\n"), 0o600); !errors.Is(err, injected) {
		t.Fatalf("WriteFileAtomic = %v, want the injected failure", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("old file now %q", got)
	}
	if des, _ := os.ReadDir(dir); len(des) != 1 {
		t.Errorf("%d entries in the folder, want only the old file", len(des))
	}
}
