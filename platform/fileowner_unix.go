//go:build unix

package platform

import (
	"io/fs"
	"syscall"
)

// fileOwner returns the owner of the file fi describes.
func fileOwner(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid), int(st.Gid)
	}
	return -1, -1
}
