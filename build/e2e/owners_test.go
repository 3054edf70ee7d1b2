package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
)

// e2eUser creates a throwaway system user in group, removed when the test
// ends.
func e2eUser(t *testing.T, name, group string) (uid, gid uint32) {
	t.Helper()
	for _, tool := range []string{"useradd", "userdel", "groupadd", "groupdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (package passwd)", tool)
		}
	}
	if _, err := user.LookupGroup(group); err != nil {
		if out, err := exec.Command("groupadd", "--system", group).CombinedOutput(); err != nil {
			t.Fatalf("groupadd %s: %v\n%s", group, err, out)
		}
		t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	}
	exec.Command("userdel", name).Run() // a leftover of an interrupted run
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--gid", group, "--shell", "/usr/sbin/nologin", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := strconv.Atoi(u.Uid)
	b, _ := strconv.Atoi(u.Gid)
	return uint32(a), uint32(b)
}

// TestDaemonSessionOwners: two real uids share the helper. Root brings a
// profile up; another member of the helper's group sees that the session
// exists and its state but not its addresses, cannot take it down by name
// (a plain-words refusal) and "down" with no name leaves it alone; its
// owner can.
func TestDaemonSessionOwners(t *testing.T) {
	s := server(t)
	const group = "corridor-e2e"
	uid, gid := e2eUser(t, "corridor-e2e-b", group)
	r := newDaemonRig(t, s, "--group", group)
	// The rig's socket sits in a private temporary folder: let the other
	// user reach it (the socket itself is 0660 root:group).
	os.Chmod(filepath.Dir(r.socket), 0o755)
	os.Chmod(filepath.Dir(filepath.Dir(r.socket)), 0o755)
	os.Chmod(filepath.Dir(corridorBin), 0o755) // the other user runs the same binary
	r.addProfile("office")
	if out, code := r.cli(90*time.Second, "", "up", "office", "--wait", "60s"); code != 0 {
		t.Fatalf("root's up: exit %d\n%s", code, out)
	}

	// Not t.TempDir(): its parent is private to root.
	home, err := os.MkdirTemp("", "corridor-e2e-b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	os.Chmod(home, 0o755)
	os.Chown(home, int(uid), int(gid))
	asB := func(args ...string) (string, int) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, corridorBin, args...)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "CORRIDOR_SOCKET=" + r.socket,
			"CORRIDOR_CONFIG_DIR=" + filepath.Join(home, "config")}
		cmd.Dir = home
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatalf("corridor %v as uid %d: %v", args, uid, err)
		}
		return string(out), 0
	}

	out, code := asB("status", "--json")
	var rep core.StatusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Version != core.StatusReportVersion || len(rep.Sessions) != 1 {
		t.Fatalf("status --json as the other user: exit %d\n%s", code, out)
	}
	st := rep.Sessions
	if st[0].State != core.StateConnected || !st[0].OtherUser || st[0].Address != "" || st[0].Interface != "" {
		t.Errorf("the other user's status %+v: want only that office exists and is connected", st[0])
	}
	out, code = asB("down", "office")
	t.Logf("down office as uid %d: exit %d: %s", uid, code, strings.TrimSpace(out))
	if code == 0 || !strings.Contains(out, "belongs to another user") {
		t.Errorf("the other user's down office: exit %d, want a refusal saying the session belongs to another user:\n%s", code, out)
	}
	if out, code := asB("down"); code != 0 {
		t.Errorf("the other user's down (own sessions: none): exit %d\n%s", code, out)
	}
	if got := r.status(); got.State != core.StateConnected || got.Address == "" {
		t.Fatalf("after the other user's downs root sees %s (address %q), want connected", got.State, got.Address)
	}
	if got := pingIf(t, s, "corridor0", 3); got < 2 {
		t.Errorf("ping after the other user's downs: %d of 3", got)
	}
	if out, code := r.cli(30*time.Second, "", "down", "office"); code != 0 {
		t.Errorf("the owner's down: exit %d\n%s", code, out)
	}
	if got := r.status(); got.State != core.StateIdle {
		t.Errorf("after the owner's down: %s", got.State)
	}
}
