package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
)

// refuseIf is the device name the PAP tests ask for: unlikely to exist,
// so that its presence means corridor created it.
const refuseIf = "crefuse0"

// hostCorridor is one corridor connect process in the host namespace (the
// scripted server runs in the test process, on loopback), killed after
// its timeout.
type hostCorridor struct {
	*client
}

func startHostCorridor(t *testing.T, timeout time.Duration, args ...string) hostCorridor {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return hostCorridor{startCmd(t, exec.CommandContext(ctx, corridorBin, args...))}
}

func (c hostCorridor) text() (stdout, stderr string) { return c.stdout(), c.stderr() }

// wait returns the exit code, or -1 when it did not end within d.
func (c hostCorridor) wait(d time.Duration) int {
	select {
	case <-c.waited:
	case <-time.After(d):
		return -1
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		return -2
	}
	return 0
}

// TestPAPRefused: a server that insists on PAP is refused before the
// password is sent (exit code 3, the message names PAP, the hint names
// --auth), within 10 s and without a TUN device; with --auth pap the
// same server signs us in, and SIGTERM then disconnects cleanly.
func TestPAPRefused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the corridor binary is built by TestMain only as root, and --auth pap goes on to create a TUN device")
	}
	const password = "pw-Refuse-91x"
	srv := l2tptest.NewServer(l2tptest.Config{User: "u", Password: password, Auth: l2tptest.AuthPAP, InsistAuth: true})
	defer srv.Close()
	addr, err := srv.ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pw, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"connect", "--no-ipsec", "--user", "u", "--password-file", pw, "--ifname", refuseIf}

	// Default --auth (MS-CHAPv2 only): refused.
	start := time.Now()
	c := startHostCorridor(t, 30*time.Second, append(args, addr.String())...)
	code := c.wait(10 * time.Second)
	took := time.Since(start)
	stdout, stderr := c.text()
	if code == -1 {
		t.Fatalf("still running after 10 s\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
	t.Logf("exit %d after %v\nstdout:\n%s\nstderr:\n%s", code, took.Round(time.Millisecond), stdout, stderr)
	if code != 3 {
		t.Errorf("exit code %d, want 3 (authentication)", code)
	}
	for _, want := range []string{
		"corridor: the server asked for PAP, which Corridor does not allow by default (it sends the password readable to anyone on the network path",
		"hint: if you trust this server, allow it with --auth mschapv2,pap",
		"corridor: warning: --no-ipsec: ",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q", want)
		}
	}
	if strings.Contains(stdout, "connected:") || strings.Contains(stdout, "auth ok") {
		t.Errorf("got past authentication:\n%s", stdout)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Error("the password shows in the output")
	}
	if st := srv.Stats(); st.AuthOK != 0 || st.AuthFailed != 0 || st.IPCPUp != 0 {
		t.Errorf("the server checked credentials: %+v", st)
	}
	for _, e := range srv.Events() {
		if e.Kind == l2tptest.EventAuthOK || e.Kind == l2tptest.EventAuthFailed {
			t.Errorf("server event %v: the password was sent", e)
		}
	}
	if _, err := net.InterfaceByName(refuseIf); err == nil {
		t.Errorf("device %s exists after a refused connect", refuseIf)
	}

	// --auth pap: past authentication; as root it connects.
	c = startHostCorridor(t, 60*time.Second, append(args, "--auth", "pap", addr.String())...)
	deadline := time.After(20 * time.Second)
	connected := false
	for !connected {
		select {
		case l := <-c.lines:
			connected = strings.HasPrefix(l, "connected:")
		case <-c.waited:
			stdout, stderr := c.text()
			t.Fatalf("--auth pap: ended (exit %d) before connecting\nstdout:\n%s\nstderr:\n%s", c.wait(0), stdout, stderr)
		case <-deadline:
			stdout, stderr := c.text()
			t.Fatalf("--auth pap: not connected within 20 s\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
		}
	}
	if st := srv.Stats(); st.AuthOK != 1 {
		t.Errorf("--auth pap: server stats %+v, want one good PAP sign-in", st)
	}
	if _, err := net.InterfaceByName(refuseIf); err != nil {
		t.Errorf("connected, but no device %s: %v", refuseIf, err)
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code = c.wait(15 * time.Second)
	stdout, stderr = c.text()
	t.Logf("--auth pap: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	if code != 0 {
		t.Errorf("--auth pap: exit code %d after SIGTERM, want 0", code)
	}
	if !strings.Contains(stdout, "ppp auth ok (PAP)") {
		t.Errorf("--auth pap: stdout lacks the PAP sign-in")
	}
	if strings.Contains(stdout+stderr, password) {
		t.Error("--auth pap: the password shows in the output")
	}
	if _, err := net.InterfaceByName(refuseIf); err == nil {
		t.Errorf("device %s still exists after disconnecting", refuseIf)
	}
}
