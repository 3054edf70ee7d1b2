//go:build unix

package platform

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// fileOwner returns the owner of the file fi describes.
func fileOwner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}

// checkOwnerMode accepts a journal file or directory that only root can
// have written: owned by root and without the group and other write bits.
// The process's own user is accepted too, which is root for the helper; a
// process of another user can only undo, with its own rights, what it
// wrote itself (tests run so).
func checkOwnerMode(fi fs.FileInfo) error {
	uid, _ := fileOwner(fi)
	if uid < 0 {
		return fmt.Errorf("of unknown owner")
	}
	if uid != 0 && uid != os.Geteuid() {
		return fmt.Errorf("owned by uid %d, not by root", uid)
	}
	if m := fi.Mode(); m&0o022 != 0 {
		return fmt.Errorf("writable by its group or by everyone (mode %#o)", m.Perm()|m&fs.ModeSticky)
	}
	return nil
}
