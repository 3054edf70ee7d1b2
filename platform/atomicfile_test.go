package platform

import (
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
