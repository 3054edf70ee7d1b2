//go:build !linux

package desktop

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
)

// claimInstance claims the app's socket (instance_sock.go). first
// reports whether this process is the first instance; then release gives
// the socket back. When another instance holds it, it has been told to
// bring its window forward (unless activateOther is false) and first is
// false. An error means the socket could not be used: the caller runs
// anyway. Compiled for Windows only (macOS builds need its SDK), never
// run on either.
func claimInstance(activate func(), activateOther bool) (first bool, release func(), err error) {
	path, err := instanceSocket()
	if err != nil {
		return false, nil, err
	}
	return claimSocket(path, activate, activateOther)
}

// instanceSocket is where the socket lives: a directory only this user
// can write.
func instanceSocket() (string, error) {
	switch runtime.GOOS {
	case "windows":
		base := os.Getenv("LOCALAPPDATA")
		if base == "" {
			return "", fmt.Errorf("one instance: LOCALAPPDATA is not set")
		}
		dir := filepath.Join(base, "Corridor")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("one instance: %w", err)
		}
		return filepath.Join(dir, "instance.sock"), nil
	case "darwin":
		// $TMPDIR: /var/folders/.../T/, the user's own.
		return filepath.Join(os.TempDir(), AppID+".sock"), nil
	}
	// Elsewhere /tmp may be shared: the uid in the name.
	return filepath.Join(os.TempDir(), AppID+"-"+strconv.Itoa(os.Getuid())+".sock"), nil
}
