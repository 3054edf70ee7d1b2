package platform

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces path with data so that, even across a crash or a
// power cut, the file holds either its old content or all of data, never
// a part: data goes to a temporary file in the same directory, which is
// fsynced and renamed over path, and the directory is then fsynced so that
// the rename itself is durable. The file gets exactly the permission bits
// perm (not narrowed by the umask). A temporary file left by a crash is
// named "." + the base name + ".tmp-" + a random suffix.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := writeFileAtomic(path, data, perm, -1, -1); err != nil {
		return fmt.Errorf("platform: writing %s: %w", path, err)
	}
	return nil
}

// writeFileAtomic is WriteFileAtomic that also sets the owner, when uid or
// gid is not -1, before the file takes path's place.
func writeFileAtomic(path string, data []byte, perm fs.FileMode, uid, gid int) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+atomicTmp+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = f.Chmod(perm.Perm())
	if err == nil && (uid >= 0 || gid >= 0) {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameFile(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(dir)
	return nil
}

// renameFile is os.Rename; tests make it fail.
var renameFile = os.Rename

// atomicTmp marks the temporary files of writeFileAtomic.
const atomicTmp = ".tmp-"

// syncDir makes a rename in dir durable. Windows cannot fsync a directory
// (NTFS journals the rename itself); the error is ignored there.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
