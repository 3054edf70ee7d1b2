package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/build/softether"
	"github.com/corridorvpn/corridor/build/testenv"
	"github.com/corridorvpn/corridor/core"
)

// keyring starts a private D-Bus session with gnome-keyring unlocked and
// returns the environment for processes that use it (HOME included, so
// nothing touches a real user's keyring).
func keyring(t *testing.T) []string {
	t.Helper()
	for _, tool := range []string{"dbus-daemon", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (apt packages dbus-daemon gnome-keyring; build/setup.sh installs them)", tool)
		}
	}
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + home, "XDG_DATA_HOME=" + home + "/data", "XDG_CONFIG_HOME=" + home + "/config",
		"PATH=" + os.Getenv("PATH")}
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+testenv.SessionBus(t, env))
	env = append(env, testenv.Keyring(t, env)...)
	t.Cleanup(func() { exec.Command("pkill", "-f", "gnome-keyring-daemon.*"+home).Run() })
	return env
}

// daemonRig is a corridor daemon in the client namespace of a server, and
// the environment of the user-side CLI (keyring, config dir, socket).
type daemonRig struct {
	t       *testing.T
	s       *softether.Server
	env     []string
	socket  string
	journal string
	config  string
	resolv  string // the client namespace's /etc/resolv.conf (bind-mounted by ip netns exec)
	daemon  *exec.Cmd
	extra   []string // more daemon flags
	log     *bytes.Buffer
	waited  chan struct{}
}

func newDaemonRig(t *testing.T, s *softether.Server, daemonFlags ...string) *daemonRig {
	t.Helper()
	dir := t.TempDir()
	r := &daemonRig{t: t, s: s, socket: filepath.Join(dir, "corridor.sock"), journal: filepath.Join(dir, "journal"),
		config: filepath.Join(dir, "config"), extra: daemonFlags}
	r.env = append(keyring(t), "CORRIDOR_CONFIG_DIR="+r.config, "CORRIDOR_SOCKET="+r.socket)
	// ip netns exec bind-mounts /etc/netns/NS/resolv.conf over
	// /etc/resolv.conf: the daemon's DNS changes stay in the namespace.
	nsdir := filepath.Join("/etc/netns", s.ClientNS)
	if err := os.MkdirAll(nsdir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.resolv = filepath.Join(nsdir, "resolv.conf")
	if err := os.WriteFile(r.resolv, []byte("# the test's resolv.conf\nnameserver 10.99.99.53\nsearch example.test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(nsdir) })
	r.startDaemon()
	return r
}

func (r *daemonRig) startDaemon() {
	r.t.Helper()
	r.log = &bytes.Buffer{}
	r.daemon = r.s.Command(context.Background(), corridorBin, append([]string{"daemon", "-v", "--socket", r.socket, "--journal", r.journal}, r.extra...)...)
	r.daemon.Stdout, r.daemon.Stderr = &lockedBuf{b: r.log}, &lockedBuf{b: r.log}
	if err := r.daemon.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.waited = make(chan struct{})
	cmd, waited := r.daemon, r.waited
	go func() { cmd.Wait(); close(waited) }()
	r.t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-waited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
		if r.t.Failed() {
			r.t.Logf("daemon log:\n%s", r.log.String())
		}
	})
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("unix", r.socket); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.t.Fatalf("daemon did not listen; log:\n%s", r.log.String())
}

type lockedBuf struct {
	b *bytes.Buffer
}

// logMu guards the daemon log buffers.
var logMu sync.Mutex

func (l *lockedBuf) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return l.b.Write(p)
}

// cli runs a user-side corridor command (in the host namespace: it only
// talks to the keychain and the socket).
func (r *daemonRig) cli(timeout time.Duration, stdin string, args ...string) (string, int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, corridorBin, args...)
	cmd.Env = r.env
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("corridor %v: %v", args, err)
	}
	return string(out), code
}

func (r *daemonRig) addProfile(name string, extra ...string) {
	r.t.Helper()
	dir := r.t.TempDir()
	pw, psk := filepath.Join(dir, "pw"), filepath.Join(dir, "psk")
	os.WriteFile(pw, []byte(r.s.Password+"\n"), 0o600)
	os.WriteFile(psk, []byte(r.s.PSK+"\n"), 0o600)
	args := append([]string{"profile", "add", name, "--server", r.s.Addr, "--user", r.s.User,
		"--password-file", pw, "--psk-file", psk}, extra...)
	out, code := r.cli(30*time.Second, "", args...)
	if code != 0 {
		r.t.Fatalf("profile add: exit %d\n%s", code, out)
	}
	os.Remove(pw)
	os.Remove(psk)
}

func (r *daemonRig) status() core.Status {
	r.t.Helper()
	out, code := r.cli(10*time.Second, "", "status", "--json")
	var rep core.StatusReport
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep.Version != core.StatusReportVersion || len(rep.Sessions) != 1 {
		r.t.Fatalf("status --json: exit %d\n%s", code, out)
	}
	return rep.Sessions[0]
}

func (r *daemonRig) ns(args ...string) string {
	out, _ := r.s.Command(context.Background(), args[0], args[1:]...).CombinedOutput()
	return string(out)
}

func (r *daemonRig) routes() string { return r.ns("ip", "-4", "route", "show", "table", "main") }

// TestDaemonFullTunnel: profile add, up through the daemon, counters in
// status --json, full-tunnel routing (a network only the server side can
// reach goes through the tunnel, the server itself via the veth), DNS,
// no secret anywhere, and down restores routes and resolv.conf byte for byte.
func TestDaemonFullTunnel(t *testing.T) {
	s := server(t)
	// A TCP service on an address of the server's namespace that the client
	// can reach only through the tunnel (SecureNAT forwards to it).
	inside := listenInServerNS(t, s)
	r := newDaemonRig(t, s)
	routesBefore, resolvBefore := r.routes(), mustRead(t, r.resolv)
	r.addProfile("office", "--full-tunnel")

	start := time.Now()
	out, code := r.cli(90*time.Second, "", "up", "office")
	t.Logf("corridor up (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if code != 0 || !strings.Contains(out, "connected: office interface corridor0 address 192.168.30.") {
		t.Fatalf("up: exit %d", code)
	}
	st1 := r.status()
	if st1.State != core.StateConnected || !strings.HasPrefix(st1.Address, "192.168.30.") || st1.ESP == "" {
		t.Fatalf("status %+v", st1)
	}
	if got := pingIf(t, s, "corridor0", 5); got != 5 {
		t.Errorf("ping through the tunnel: %d of 5", got)
	}
	st2 := r.status()
	t.Logf("counters: before ping tx %d rx %d, after tx %d rx %d", st1.Stats.TxBytes, st1.Stats.RxBytes, st2.Stats.TxBytes, st2.Stats.RxBytes)
	if st2.Stats.TxBytes < st1.Stats.TxBytes+5*84 || st2.Stats.RxBytes < st1.Stats.RxBytes+5*84 {
		t.Errorf("counters did not grow by five pings")
	}
	viaTunnel, viaVeth := r.ns("ip", "-4", "route", "get", inside.addr), r.ns("ip", "-4", "route", "get", s.Addr)
	t.Logf("route get %s: %sroute get %s: %s", inside.addr, viaTunnel, s.Addr, viaVeth)
	if !strings.Contains(viaTunnel, "dev corridor0") {
		t.Errorf("%s does not go through the tunnel", inside.addr)
	}
	if strings.Contains(viaVeth, "corridor0") {
		t.Errorf("the server's own address goes through the tunnel (the outer packets would loop)")
	}
	if got := inside.fetch(t); got != inside.greeting {
		t.Errorf("through the tunnel to %s: got %q, want %q", inside.addr, got, inside.greeting)
	}
	if rc := mustRead(t, r.resolv); !strings.Contains(rc, "nameserver 192.168.30.1") {
		t.Errorf("resolv.conf while connected:\n%s", rc)
	}
	// IPv6, which the tunnel does not carry, cannot go around it.
	_, ipv6Err := os.Stat("/proc/net/if_inet6")
	if ipv6Err == nil {
		table6, get6 := r.ns("ip", "-6", "route", "show", "table", "main"), r.ns("ip", "-6", "route", "get", "2001:db8::1")
		t.Logf("IPv6 while connected:\n%sroute get 2001:db8::1: %s", table6, get6)
		if !strings.Contains(table6, "unreachable ::/1 ") || !strings.Contains(table6, "unreachable 8000::/1 ") ||
			!strings.Contains(get6, "No route to host") {
			t.Errorf("IPv6 not blocked in a full tunnel")
		}
	}

	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", r.daemon.Process.Pid)); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmRSS:") || strings.HasPrefix(l, "VmHWM:") {
				t.Logf("daemon (connected, full tunnel) %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}
	scanForSecrets(t, r, s)

	out, code = r.cli(30*time.Second, "", "down", "office")
	if code != 0 {
		t.Errorf("down: exit %d\n%s", code, out)
	}
	if after := r.routes(); after != routesBefore {
		t.Errorf("routes after down differ:\nbefore:\n%s\nafter:\n%s", routesBefore, after)
	}
	if table6 := r.ns("ip", "-6", "route", "show", "table", "main"); strings.Contains(table6, "unreachable") {
		t.Errorf("IPv6 still blocked after down:\n%s", table6)
	}
	if after := mustRead(t, r.resolv); after != resolvBefore {
		t.Errorf("resolv.conf after down differs:\nbefore:\n%q\nafter:\n%q", resolvBefore, after)
	}
}

// TestDaemonKill9Recovers: the daemon is killed with SIGKILL while
// connected in full-tunnel mode; the next daemon replays its journal and
// the routing table and resolv.conf are as before.
func TestDaemonKill9Recovers(t *testing.T) {
	s := server(t)
	r := newDaemonRig(t, s)
	routesBefore, resolvBefore := r.routes(), mustRead(t, r.resolv)
	r.addProfile("office", "--full-tunnel")
	if out, code := r.cli(90*time.Second, "", "up", "office"); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	r.daemon.Process.Kill()
	<-r.waited
	left := r.routes()
	t.Logf("after kill -9: routes\n%sresolv.conf:\n%s", left, mustRead(t, r.resolv))
	if left == routesBefore && mustRead(t, r.resolv) == resolvBefore {
		t.Fatalf("kill -9 left nothing behind: the test proves nothing")
	}
	r.startDaemon()
	if after := r.routes(); after != routesBefore {
		t.Errorf("routes after recovery differ:\nbefore:\n%s\nafter:\n%s", routesBefore, after)
	}
	if after := mustRead(t, r.resolv); after != resolvBefore {
		t.Errorf("resolv.conf after recovery differs:\nbefore:\n%q\nafter:\n%q", resolvBefore, after)
	}
	if entries, _ := os.ReadDir(r.journal); len(entries) != 0 {
		t.Errorf("journal not empty after recovery: %v", entries)
	}
}

// TestDaemonReconnect freezes the server mid-session: the loss must be
// reported within 30 s with its reason, and the session must come back
// by itself once the server runs again.
func TestDaemonReconnect(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for dead peer detection")
	}
	s := server(t)
	r := newDaemonRig(t, s)
	r.addProfile("office")
	if out, code := r.cli(90*time.Second, "", "up", "office"); code != 0 {
		t.Fatalf("up: exit %d\n%s", code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	watch := exec.CommandContext(ctx, corridorBin, "watch", "--json")
	watch.Env = r.env
	events := watchEvents(t, watch)
	time.Sleep(500 * time.Millisecond) // the subscription is in place
	noticed, _, _ := freezeAndResume(t, s, events)
	if noticed > 30*time.Second {
		t.Errorf("the dead server was noticed after %v, want at most 30 s", noticed)
	}
	if got := pingIf(t, s, "corridor0", 3); got != 3 {
		t.Errorf("ping after reconnecting: %d of 3", got)
	}
}

// freezeAndResume stops the server (SIGSTOP) under a connected session,
// waits until the session is given up (Reconnecting; the reason must say
// the server stopped answering), resumes it and waits until connected
// again. It returns how long each took and the connected status.
func freezeAndResume(t *testing.T, s *softether.Server, events <-chan core.Event) (noticed, back time.Duration, st core.Status) {
	t.Helper()
	if err := syscall.Kill(s.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	resumed := false
	defer func() {
		if !resumed {
			syscall.Kill(s.PID, syscall.SIGCONT)
		}
	}()
	ev := waitEvent(t, events, 45*time.Second, func(ev core.Event) bool {
		return ev.Kind == core.EventState && ev.Status.State == core.StateReconnecting
	})
	noticed = time.Since(stopped)
	if ev.Status.Error == nil || !strings.Contains(ev.Status.Error.Msg, "stopped answering") {
		t.Errorf("reason %+v, want the server stopped answering", ev.Status.Error)
	} else {
		t.Logf("loss noticed after %v: %s", noticed.Round(100*time.Millisecond), ev.Status.Error.Msg)
	}
	syscall.Kill(s.PID, syscall.SIGCONT)
	resumed = true
	resume := time.Now()
	ev = waitEvent(t, events, 90*time.Second, func(ev core.Event) bool {
		return ev.Kind == core.EventState && ev.Status.State == core.StateConnected
	})
	back = time.Since(resume)
	t.Logf("reconnected %v after the server resumed (attempt %d)", back.Round(100*time.Millisecond), ev.Status.Attempt)
	return noticed, back, ev.Status
}

// watchEvents starts watch, a "corridor watch --json" command, and
// streams its events; the command ends with the test (or its context).
func watchEvents(t *testing.T, watch *exec.Cmd) <-chan core.Event {
	t.Helper()
	pipe, err := watch.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Process.Kill(); watch.Wait() })
	events := make(chan core.Event, 256)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			var ev core.Event
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				events <- ev
			}
		}
		close(events)
	}()
	return events
}

func waitEvent(t *testing.T, events <-chan core.Event, d time.Duration, match func(core.Event) bool) core.Event {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("event stream ended")
			}
			if match(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no matching event within %v", d)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// scanForSecrets: the password and PSK appear in no file under the config
// directory, in no daemon log, and in no argv or environment of a
// corridor process.
func scanForSecrets(t *testing.T, r *daemonRig, s *softether.Server) {
	t.Helper()
	secrets := []string{s.Password, s.PSK}
	filepath.Walk(r.config, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, sec := range secrets {
			if bytes.Contains(b, []byte(sec)) {
				t.Errorf("secret found in %s", p)
			}
		}
		return nil
	})
	logMu.Lock()
	log := r.log.String()
	logMu.Unlock()
	for _, sec := range secrets {
		if strings.Contains(log, sec) {
			t.Errorf("secret found in the daemon log")
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	checked := 0
	for _, p := range procs {
		cmdline, err := os.ReadFile(p + "/cmdline")
		if err != nil || !bytes.Contains(cmdline, []byte("corridor")) {
			continue
		}
		environ, _ := os.ReadFile(p + "/environ")
		checked++
		for _, sec := range secrets {
			if bytes.Contains(cmdline, []byte(sec)) || bytes.Contains(environ, []byte(sec)) {
				t.Errorf("secret in argv or environment of %s (%q)", p, strings.ReplaceAll(string(cmdline), "\x00", " "))
			}
		}
	}
	t.Logf("secret scan: config dir, daemon log (%d bytes), %d corridor processes' argv and environment", len(log), checked)
	if checked == 0 {
		t.Errorf("no corridor process found to scan")
	}
}

// insideService is a TCP greeter on an address of the server's namespace.
type insideService struct {
	addr, greeting string
	port           int
	s              *softether.Server
}

// listenInServerNS adds 10.98.X.1/32 to the server namespace's loopback
// and serves a greeting on it with a tiny shell-free listener (this test
// binary re-executed in the namespace).
func listenInServerNS(t *testing.T, s *softether.Server) *insideService {
	t.Helper()
	addr := "10.98.77.1"
	if out, err := exec.Command("ip", "netns", "exec", s.ServerNS, "ip", "addr", "add", addr+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("add %s in %s: %v %s", addr, s.ServerNS, err, out)
	}
	svc := &insideService{addr: addr, port: 18080, greeting: "hello from inside " + s.ServerNS, s: s}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", s.ServerNS, os.Args[0], "-test.run", "^TestHelperGreeter$")
	cmd.Env = append(os.Environ(), "CORRIDOR_GREETER="+fmt.Sprintf("%s:%d", addr, svc.port), "CORRIDOR_GREETING="+svc.greeting)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if !strings.HasPrefix(line, "listening") {
		t.Fatalf("greeter did not start: %q", line)
	}
	return svc
}

// fetch connects through the client namespace (and so the tunnel).
func (i *insideService) fetch(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := i.s.Command(ctx, os.Args[0], "-test.run", "^TestHelperGreeter$")
	cmd.Env = append(os.Environ(), "CORRIDOR_GREET_CLIENT="+fmt.Sprintf("%s:%d", i.addr, i.port))
	out, err := cmd.Output()
	if err != nil {
		t.Errorf("client in %s: %v", i.s.ClientNS, err)
	}
	return strings.TrimSpace(string(out))
}

// TestHelperGreeter is not a test: it is the greeter server or client
// re-executed inside a namespace by listenInServerNS and fetch.
func TestHelperGreeter(t *testing.T) {
	if a := os.Getenv("CORRIDOR_GREETER"); a != "" {
		ln, err := net.Listen("tcp4", a)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("listening")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(0)
			}
			io.WriteString(c, os.Getenv("CORRIDOR_GREETING")+"\n")
			c.Close()
		}
	}
	if a := os.Getenv("CORRIDOR_GREET_CLIENT"); a != "" {
		c, err := net.DialTimeout("tcp4", a, 15*time.Second)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c.SetDeadline(time.Now().Add(15 * time.Second))
		b, _ := io.ReadAll(c)
		os.Stdout.Write(b)
		os.Exit(0)
	}
	t.Skip("helper process for the daemon tests, not a test")
}
