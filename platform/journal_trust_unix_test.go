//go:build unix

package platform

import (
	"os"
	"path/filepath"
	"testing"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: gives a file to another user (chown)")
	}
}

// TestRecoverRefusesJournalOfAnotherUser: a journal, or its directory,
// owned by a user other than root is not replayed, nor deleted.
func TestRecoverRefusesJournalOfAnotherUser(t *testing.T) {
	needRoot(t)
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	t.Run("file", func(t *testing.T) {
		dir, path := plantJournal(t, "corridor0", legitEntries(rc))
		if err := os.Chown(path, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, dir, rc, "not replayed", "owned by uid 12345")
	})
	t.Run("directory", func(t *testing.T) {
		dir, _ := plantJournal(t, "corridor0", legitEntries(rc))
		if err := os.Chown(dir, 12345, 12345); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, dir, rc, "not replayed", "owned by uid 12345")
	})
}

// TestRecoverRefusesWritableJournal: a journal, or its directory, that a
// group or everyone may write is not replayed, nor deleted.
func TestRecoverRefusesWritableJournal(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	for _, tc := range []struct {
		name string
		dir  bool
		mode os.FileMode
	}{
		{"world-writable file", false, 0o666},
		{"group-writable file", false, 0o620},
		{"world-writable directory", true, 0o777},
		{"group-writable directory", true, 0o770},
		{"sticky world-writable directory", true, 0o1777},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, path := plantJournal(t, "corridor0", legitEntries(rc))
			target := path
			if tc.dir {
				target = dir
			}
			if err := os.Chmod(target, tc.mode); err != nil {
				t.Fatal(err)
			}
			wantRefused(t, dir, rc, "not replayed", "writable by")
		})
	}
}

// TestRecoverRefusesSymlinkJournal: a journal that is a symbolic link, or
// a journal directory that is one, is not followed.
func TestRecoverRefusesSymlinkJournal(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "resolv.conf")
	t.Run("file", func(t *testing.T) {
		elsewhere, real := plantJournal(t, "corridor0", legitEntries(rc))
		dir := filepath.Join(t.TempDir(), "journal")
		os.Mkdir(dir, 0o700)
		if err := os.Symlink(real, journalPath(dir, "corridor0")); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, dir, rc, "not replayed", "symbolic link")
		if _, err := os.Stat(real); err != nil {
			t.Errorf("the link's target: %v", err)
		}
		_ = elsewhere
	})
	t.Run("directory", func(t *testing.T) {
		real, _ := plantJournal(t, "corridor0", legitEntries(rc))
		dir := filepath.Join(t.TempDir(), "journal")
		if err := os.Symlink(real, dir); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, dir, rc, "not replayed", "symbolic link")
	})
}
