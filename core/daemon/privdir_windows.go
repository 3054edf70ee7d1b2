package daemon

import (
	"fmt"
	"os"
)

// checkPrivateDir: on Windows the directory's ACL (the user's profile)
// keeps others out; only that it is a directory is checked. Compiled,
// not run: the per-user runner is tested on Linux.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("daemon: socket directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("daemon: %s is not a directory", dir)
	}
	return nil
}
