package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/build/softether"
	"github.com/corridorvpn/corridor/core"
)

// nobodyCLI runs one corridor command as uid 65534 without capabilities
// in the client namespace, with env added, and returns its output and
// exit code.
func nobodyCLI(t *testing.T, s *softether.Server, env []string, timeout time.Duration, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := s.Command(ctx, "setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", corridorBin}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("corridor %v: %v", args, err)
	}
	return string(out), code
}

// TestProxyProfileUp: a saved profile with mode = "proxy", brought up
// with corridor up by an ordinary user (uid 65534, no capabilities, no
// helper anywhere): up starts the user's own session runner, which
// connects to SoftEther and serves the proxy; status shows the session
// with its proxy address; down ends it; the runner then ends by itself.
func TestProxyProfileUp(t *testing.T) {
	s := server(t)
	startIntranet(t, s)
	pw, psk := nobodyFiles(t, s)
	home, err := os.MkdirTemp("", "corridor-nobody-home")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	os.Chown(home, nobody, nobody)
	runDir := filepath.Join(home, "run") // made by the runner, 0700
	env := []string{"HOME=" + home, "CORRIDOR_CONFIG_DIR=" + filepath.Join(home, "config"),
		"CORRIDOR_USER_SOCKET=" + filepath.Join(runDir, "user.sock"),
		"CORRIDOR_SOCKET=" + filepath.Join(home, "no-helper.sock"), // no root helper to fall back on
		"CORRIDOR_USER_IDLE_EXIT=2s", "XDG_RUNTIME_DIR=", "DBUS_SESSION_BUS_ADDRESS="}
	run := func(timeout time.Duration, args ...string) (string, int) {
		t.Helper()
		return nobodyCLI(t, s, env, timeout, args...)
	}
	var runnerPid int
	t.Cleanup(func() {
		if runnerPid > 0 {
			syscall.Kill(runnerPid, syscall.SIGTERM)
		}
	})

	if out, code := run(30*time.Second, "profile", "add", "office", "--server", s.Addr, "--user", s.User,
		"--ask-password", "--ask-psk", "--proxy", proxyPort); code != 0 {
		t.Fatalf("profile add: exit %d\n%s", code, out)
	}
	if out, _ := run(30*time.Second, "profile", "show", "office"); !strings.Contains(out, `mode = "proxy"`) || !strings.Contains(out, `proxy = "127.0.0.1:`+proxyPort+`"`) {
		t.Fatalf("profile show:\n%s", out)
	}

	start := time.Now()
	out, code := run(90*time.Second, "up", "office", "--password-file", pw, "--psk-file", psk)
	t.Logf("corridor up (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if log, err := os.ReadFile(filepath.Join(runDir, "user.log")); err == nil {
		if m := regexp.MustCompile(`pid=(\d+)`).FindSubmatch(log); m != nil {
			runnerPid, _ = strconv.Atoi(string(m[1]))
		}
		defer func() { t.Logf("the runner's log:\n%s", readFile(filepath.Join(runDir, "user.log"))) }()
	}
	if code != 0 || !strings.Contains(out, "connected: office proxy 127.0.0.1:"+proxyPort+" address 192.168.30.") {
		t.Fatalf("up: exit %d", code)
	}
	if strings.Contains(out, s.Password) || strings.Contains(out, s.PSK) {
		t.Error("a secret in up's output")
	}

	// The runner: this user's, no capabilities, a private socket.
	if runnerPid == 0 {
		t.Fatal("no pid in the runner's log")
	}
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", runnerPid))
	if err != nil {
		t.Fatalf("the runner (pid %d) is not running: %v", runnerPid, err)
	}
	if s := string(st); !strings.Contains(s, "\nUid:\t65534\t65534\t65534\t65534\n") || !strings.Contains(s, "\nCapEff:\t0000000000000000\n") {
		t.Errorf("the runner does not run as uid 65534 without capabilities:\n%s", s)
	}
	if fi, err := os.Stat(runDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("the runner's socket directory: %v %v", fi.Mode(), err)
	}

	// The proxy works after up has exited.
	url := fmt.Sprintf("http://%s:%d/page", intranetIP, intranetPort)
	body, errs, ccode := inClient(t, s, "curl", "-sS", "--max-time", "40", "--noproxy", "", "--socks5-hostname", "127.0.0.1:"+proxyPort, url)
	if ccode != 0 || !strings.Contains(body, "intranet says hello to /page") {
		t.Errorf("curl through the profile's proxy: exit %d, body %q, stderr %q", ccode, body, errs)
	}

	// status and status --json show it, with no helper running.
	out, code = run(30*time.Second, "status")
	if code != 0 || !strings.Contains(out, "office: connected for ") || !strings.Contains(out, "on proxy 127.0.0.1:"+proxyPort) {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	out, code = run(30*time.Second, "status", "--json")
	var rep core.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || len(rep.Sessions) != 1 ||
		rep.Sessions[0].Proxy != "127.0.0.1:"+proxyPort || rep.Sessions[0].State != core.StateConnected || rep.Sessions[0].Stats.RxBytes == 0 {
		t.Errorf("status --json: exit %d, %v\n%s", code, err, out)
	}

	// The server freezes: dead peer detection notices, the runner
	// reconnects once it runs again, and the proxy serves again on the
	// same port. (Skipped with -short, as TestDaemonReconnect.)
	if !testing.Short() {
		proxyReconnect(t, s, env, url)
	}

	// A second up of the same profile is refused while it runs.
	if out, code := run(30*time.Second, "up", "office", "--password-file", pw, "--psk-file", psk, "--wait", "0"); code == 0 {
		t.Errorf("a second up succeeded:\n%s", out)
	}

	out, code = run(30*time.Second, "down", "office")
	if code != 0 || !strings.Contains(out, "disconnected: office") {
		t.Errorf("down: exit %d\n%s", code, out)
	}
	if _, _, ccode := inClient(t, s, "curl", "-sS", "--max-time", "5", "--noproxy", "", "--socks5-hostname", "127.0.0.1:"+proxyPort, url); ccode == 0 {
		t.Error("the proxy still answers after down")
	}

	// No session: the runner ends by itself (CORRIDOR_USER_IDLE_EXIT=2s)
	// and removes its socket.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", runnerPid)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the runner (pid %d) still runs 20 s after down", runnerPid)
		}
		time.Sleep(100 * time.Millisecond)
	}
	runnerPid = 0
	if _, err := os.Stat(filepath.Join(runDir, "user.sock")); err == nil {
		t.Error("the runner left its socket behind")
	}
	if out, code := run(30*time.Second, "status"); code == 0 {
		t.Errorf("status with neither helper nor runner: exit 0\n%s", out)
	}
}

// proxyReconnect freezes the server under a connected proxy-mode
// session and checks, through corridor watch, that the loss is noticed
// and the session comes back; then the proxy carries a request again.
func proxyReconnect(t *testing.T, s *softether.Server, env []string, url string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	watch := s.Command(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", corridorBin, "watch", "--json", "--stats")
	watch.Env = append(os.Environ(), env...)
	events := watchEvents(t, watch)
	// The subscription is in place once the first statistics arrive
	// (every second while connected).
	waitEvent(t, events, 10*time.Second, func(ev core.Event) bool { return ev.Kind == core.EventStats })
	_, _, st := freezeAndResume(t, s, events)
	t.Logf("proxy mode: reconnected, proxy %s", st.Proxy)
	if st.Proxy != "127.0.0.1:"+proxyPort {
		t.Errorf("proxy after reconnecting %q", st.Proxy)
	}
	body, errs, code := inClient(t, s, "curl", "-sS", "--max-time", "40", "--noproxy", "", "--socks5-hostname", "127.0.0.1:"+proxyPort, url)
	if code != 0 || !strings.Contains(body, "intranet says hello to /page") {
		t.Errorf("curl after reconnecting: exit %d, body %q, stderr %q", code, body, errs)
	}
}

func readFile(p string) string {
	b, _ := os.ReadFile(p)
	return string(b)
}

// TestProxyRekey: in proxy mode the ESP SA is rekeyed (60 s lifetime,
// rekeyed at 54 s) while requests go through the proxy, and none fails. It runs for about 75 s, so only with CORRIDOR_E2E_LONG=1
// (TestIPsecRekey covers the same rekey code in TUN mode in make test).
func TestProxyRekey(t *testing.T) {
	if os.Getenv("CORRIDOR_E2E_LONG") != "1" {
		t.Skip("runs for 75 s: set CORRIDOR_E2E_LONG=1")
	}
	s := server(t)
	startIntranet(t, s)
	pw, psk := nobodyFiles(t, s)
	c := startNobody(t, s, "connect", "--user", s.User, "--password-file", pw, "--psk-file", psk,
		"--esp-lifetime", "60s", "--proxy", proxyPort, s.Addr)
	c.waitConnected(45 * time.Second)
	// Requests through the proxy every 250 ms until 5 s after the first
	// rekey (due at 54 s), at most 90 s: each must succeed.
	url := fmt.Sprintf("http://%s:%d/page", intranetIP, intranetPort)
	start := time.Now()
	var ok, failed int
	var rekeyedAt time.Duration
	for time.Since(start) < 90*time.Second {
		body, errs, code := inClient(t, s, "curl", "-sS", "--max-time", "10", "--noproxy", "", "--socks5-hostname", "127.0.0.1:"+proxyPort, url)
		if code != 0 || !strings.Contains(body, "intranet says hello") {
			failed++
			t.Errorf("request at %v: exit %d, %q %q", time.Since(start).Round(time.Millisecond), code, body, errs)
		} else {
			ok++
		}
		if rekeyedAt == 0 && strings.Contains(c.stdout(), "ipsec: sa rekeyed") {
			rekeyedAt = time.Since(start)
		}
		if rekeyedAt > 0 && time.Since(start) > rekeyedAt+5*time.Second {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("%d requests through the proxy over %v, %d failed; rekeyed at %v after connecting", ok+failed,
		time.Since(start).Round(time.Second), failed, rekeyedAt.Round(time.Second))
	if rekeyedAt == 0 {
		t.Errorf("no rekey within 90 s with a 60 s lifetime:\n%s", c.stdout())
	}
	if code := c.terminate(); code != 0 {
		t.Errorf("exit code %d after SIGTERM", code)
	}
}
