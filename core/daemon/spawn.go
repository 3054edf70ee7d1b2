package daemon

import (
	"os"
	"os/exec"
	"path/filepath"
)

// SpawnUser starts exe as the calling user's session runner (corridor
// daemon --user --socket SOCKET) in the background, in a session of its
// own so that it outlives the command that started it. Its log goes to
// user.log beside the socket (mode 0600); no secret is in its argv or
// environment: they come with each Up over the socket.
func SpawnUser(exe, socket string) error {
	dir := filepath.Dir(socket)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := checkPrivateDir(dir); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(dir, "user.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "daemon", "--user", "--socket", socket)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = dir
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return err
	}
	// Reap it when it ends while we still run; it is not our child to
	// wait for otherwise.
	go cmd.Wait()
	return nil
}
