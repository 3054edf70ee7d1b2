package daemon

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// The Windows transport's rules, checked on Linux; the Windows calls
// themselves (pipe_windows.go) are compiled only.

// Access bits of a named pipe (winnt.h).
const (
	fileReadData           = 0x0001
	fileWriteData          = 0x0002
	fileCreatePipeInstance = 0x0004 // FILE_APPEND_DATA
	fileReadAttributes     = 0x0080
	deleteAccess           = 0x10000
	readControl            = 0x20000
	writeDAC               = 0x40000
	writeOwner             = 0x80000
	synchronize            = 0x100000
)

// TestPipeSDDL: the pipe's descriptor is a protected DACL and nothing
// else (no owner, no group, no SACL), with exactly three entries:
// SYSTEM and Administrators everything, interactive users pipeUserAccess.
func TestPipeSDDL(t *testing.T) {
	if !strings.HasPrefix(PipeSDDL, "D:P(") {
		t.Fatalf("%q does not start with a protected DACL", PipeSDDL)
	}
	for _, part := range []string{"O:", "G:", "S:"} {
		if strings.Contains(PipeSDDL, part) {
			t.Errorf("%q has a %s part", PipeSDDL, part)
		}
	}
	aces := regexp.MustCompile(`\(([^()]*)\)`).FindAllStringSubmatch(PipeSDDL[len("D:P"):], -1)
	if got := strings.Join(regexp.MustCompile(`\([^()]*\)`).FindAllString(PipeSDDL, -1), ""); "D:P"+got != PipeSDDL {
		t.Fatalf("%q is not D:P followed by entries only", PipeSDDL)
	}
	want := map[string]string{"SY": "GA", "BA": "GA", "IU": "0x" + strconv.FormatUint(pipeUserAccess, 16)}
	if len(aces) != len(want) {
		t.Fatalf("%d entries in %q, want %d", len(aces), PipeSDDL, len(want))
	}
	for _, a := range aces {
		f := strings.Split(a[1], ";")
		if len(f) != 6 {
			t.Fatalf("entry %q has %d fields, want 6", a[1], len(f))
		}
		typ, flags, rights, obj, inh, sid := f[0], f[1], f[2], f[3], f[4], f[5]
		if typ != "A" || flags != "" || obj != "" || inh != "" {
			t.Errorf("entry %q: want a plain allow entry", a[1])
		}
		if w, ok := want[sid]; !ok || rights != w {
			t.Errorf("entry %q: rights %q for %q, want %q", a[1], rights, sid, w)
		}
		delete(want, sid)
	}
	if len(want) != 0 {
		t.Errorf("no entry for %v", want)
	}
}

// TestPipeUserAccess: users may read, write, read the pipe's owner
// (the client's check) and its attributes (go-winio's dial asks for the
// pipe's info), but not create instances of it or change its security.
func TestPipeUserAccess(t *testing.T) {
	for _, need := range []uint32{fileReadData, fileWriteData, fileReadAttributes, readControl, synchronize} {
		if pipeUserAccess&need == 0 {
			t.Errorf("pipeUserAccess %#x lacks %#x", pipeUserAccess, need)
		}
	}
	for _, never := range []uint32{fileCreatePipeInstance, deleteAccess, writeDAC, writeOwner} {
		if pipeUserAccess&never != 0 {
			t.Errorf("pipeUserAccess %#x grants %#x", pipeUserAccess, never)
		}
	}
	const fileGenericRead, fileGenericWrite = 0x120089, 0x120116
	if pipeUserAccess != (fileGenericRead|fileGenericWrite)&^fileCreatePipeInstance {
		t.Errorf("pipeUserAccess %#x, want generic read and write less FILE_CREATE_PIPE_INSTANCE", pipeUserAccess)
	}
}

func TestCallerOfToken(t *testing.T) {
	const user = "S-1-5-21-1-2-3-1001"
	for _, tc := range []struct {
		name   string
		user   string
		groups []tokenGroup
		admin  bool
	}{
		{"user", user, []tokenGroup{{"S-1-5-32-545", seGroupEnabled}, {"S-1-5-4", seGroupEnabled}}, false},
		// UAC: an administrator's unelevated token has Administrators deny-only.
		{"unelevated admin", user, []tokenGroup{{sidAdministrators, 0x10}}, false},
		{"elevated admin", user, []tokenGroup{{sidAdministrators, seGroupEnabled | 0x3}}, true},
		{"system", sidSystem, nil, true},
	} {
		c := callerOfToken(tc.user, tc.groups)
		if c.SID != tc.user || c.UID != 0 || c.Admin != tc.admin {
			t.Errorf("%s: %+v, want SID %s, admin %v", tc.name, c, tc.user, tc.admin)
		}
	}
}

func TestPipeOwnerTrusted(t *testing.T) {
	for sid, want := range map[string]bool{sidSystem: true, sidAdministrators: true,
		"S-1-5-21-1-2-3-1001": false, "S-1-1-0": false, "S-1-5-32-545": false, "": false} {
		if pipeOwnerTrusted(sid) != want {
			t.Errorf("pipeOwnerTrusted(%q) = %v", sid, !want)
		}
	}
}

func TestIsPipePath(t *testing.T) {
	for p, want := range map[string]bool{PipeName: true, `\\.\PIPE\corridor`: true, `//./pipe/corridor`: true,
		`\\?\pipe\x`: true, "/run/corridor/corridor.sock": false, `C:\corridor\user.sock`: false, `\\server\pipe\corridor`: false} {
		if isPipePath(p) != want {
			t.Errorf("isPipePath(%q) = %v", p, !want)
		}
	}
}

// fakePipeCallers makes pipeCaller hand out the callers sent on the
// returned channel, one per accepted connection, in order.
func fakePipeCallers(t *testing.T) chan<- any {
	t.Helper()
	ids := make(chan any, 8)
	old := pipeCaller
	pipeCaller = func(net.Conn) (core.Caller, error) {
		switch id := (<-ids).(type) {
		case core.Caller:
			return id, nil
		case error:
			return core.Caller{}, id
		}
		panic("fakePipeCallers: send a core.Caller or an error")
	}
	t.Cleanup(func() { pipeCaller = old })
	return ids
}

// servePipeForTest serves a Manager (fake stack) with ServePipe on a unix
// listener standing in for the named pipe.
func servePipeForTest(t *testing.T) *Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pipe.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	m := core.NewManager(fakeStack{})
	s := &Server{Engine: m}
	s.usePipeListener(ln)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServePipe(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServePipe: %v", err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		m.Close(cctx)
	})
	return &Client{Socket: path}
}

// TestServePipeCallers: ServePipe serves each connection as the caller
// pipeCaller finds (by SID), so sessions belong to Windows users; a
// client whose identity cannot be read is refused.
func TestServePipeCallers(t *testing.T) {
	ids := fakePipeCallers(t)
	cl := servePipeForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice := core.Caller{SID: "S-1-5-21-1-2-3-1001"}
	bob := core.Caller{SID: "S-1-5-21-1-2-3-1002"}
	system := callerOfToken(sidSystem, nil)

	p := profile.NewProfile("office")
	p.Server, p.User, p.FullTunnel = "192.0.2.1", "alice", true
	ids <- alice
	if err := cl.Up(ctx, core.UpRequest{Profile: p, Secrets: map[profile.SecretKind]string{profile.SecretPassword: "pw"}}); err != nil {
		t.Fatalf("alice's up: %v", err)
	}
	for i := 0; ; i++ {
		ids <- alice
		st, err := cl.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) == 1 && st[0].State == core.StateConnected {
			if st[0].OtherUser || st[0].Interface != "fake0" {
				t.Errorf("alice's status %+v, want her session in full", st[0])
			}
			break
		}
		if i == 200 {
			t.Fatalf("alice's session never connected: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ids <- bob
	if st, err := cl.Status(ctx); err != nil || len(st) != 1 || !st[0].OtherUser || st[0].Interface != "" {
		t.Errorf("bob's status %+v (%v), want alice's session redacted", st, err)
	}
	ids <- bob
	var ce *core.Error
	if err := cl.Down(ctx, "office"); !errors.As(err, &ce) || ce.Class != core.ClassUsage {
		t.Errorf("bob's down of alice's session: %v, want refused (a usage error)", err)
	}
	ids <- errors.New("no token")
	if err := cl.Ping(ctx); err == nil || !strings.Contains(err.Error(), "not allowed to use the Corridor helper") {
		t.Errorf("a client of unknown identity: %v, want refused", err)
	}
	ids <- system
	if err := cl.Down(ctx, "office"); err != nil {
		t.Errorf("SYSTEM's down: %v", err)
	}
	ids <- alice
	if st, err := cl.Status(ctx); err != nil || len(st) != 1 || st[0].State == core.StateConnected {
		t.Errorf("after SYSTEM's down: %+v (%v)", st, err)
	}
}

// TestDialHelperUnix: off Windows, and for a path that is not a pipe,
// dialHelper dials the unix socket.
func TestDialHelperUnix(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := dialHelper(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}
