package softether

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// alive reports whether pid exists and has not finished exiting (a zombie
// whose threads are all gone counts as gone).
func alive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return false
	}
	zombie, threads := false, 0
	for _, line := range strings.Split(string(data), "\n") {
		k, v, _ := strings.Cut(line, ":")
		v = strings.TrimSpace(v)
		switch k {
		case "State":
			zombie = strings.HasPrefix(v, "Z") || strings.HasPrefix(v, "X")
		case "Threads":
			threads, _ = strconv.Atoi(v)
		}
	}
	return !zombie || threads > 1
}

func netnsList(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatalf("ip netns list: %v", err)
	}
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names
}

func TestServerLifecycle(t *testing.T) {
	t0 := time.Now()
	s := Start(t)
	t.Logf("start took %v", time.Since(t0).Round(10*time.Millisecond))
	if s.Addr != "10.99.0.1" && os.Getenv("CORRIDOR_NET") == "" {
		t.Errorf("Addr = %q, want 10.99.0.1", s.Addr)
	}
	if s.ServerNS != s.Name+"s" || s.ClientNS != s.Name+"c" {
		t.Errorf("namespaces %q/%q for name %q", s.ServerNS, s.ClientNS, s.Name)
	}
	if s.User != DefaultUser && os.Getenv("CORRIDOR_TEST_USER") == "" {
		t.Errorf("User = %q", s.User)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", s.ServerNS, "ss", "-Hlun").Output()
	if err != nil {
		t.Fatalf("ss in %s: %v", s.ServerNS, err)
	}
	for _, port := range []string{"500", "4500", "1701"} {
		if !strings.Contains(string(out), ":"+port+" ") {
			t.Errorf("UDP %s not bound in %s:\n%s", port, s.ServerNS, out)
		}
	}

	if out, err := s.Command(ctx, "ping", "-c", "1", "-W", "2", s.Addr).CombinedOutput(); err != nil {
		t.Errorf("ping %s from %s: %v\n%s", s.Addr, s.ClientNS, err, out)
	}

	if rss, err := os.ReadFile("/proc/" + strconv.Itoa(s.PID) + "/status"); err == nil {
		for _, line := range strings.Split(string(rss), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				t.Logf("server %s", line)
			}
		}
	}

	l, err := s.Log()
	if err != nil {
		t.Fatalf("Log: %v", err)
	}
	for _, want := range []string{
		"The SoftEther VPN Server has been started.",
		"The IPsec ver 2.0 (ISAKMP/IKEv1) processing module is started.",
		`User "` + s.User + `" has been created.`,
		"SecureNAT has started.",
	} {
		if !strings.Contains(l, want) {
			t.Errorf("server log lacks %q", want)
		}
	}
	if strings.Contains(l, s.Password) || strings.Contains(l, s.PSK) {
		t.Errorf("server log contains the password or PSK")
	}

	t1 := time.Now()
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	t.Logf("stop took %v", time.Since(t1).Round(10*time.Millisecond))
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	for _, ns := range netnsList(t) {
		if ns == s.ServerNS || ns == s.ClientNS {
			t.Errorf("namespace %s still exists after Stop", ns)
		}
	}
	if alive(s.PID) {
		t.Errorf("vpnserver PID %d still running after Stop", s.PID)
	}
	if _, err := os.Stat(s.StateDir); err == nil && os.Getenv("KEEP") != "1" {
		t.Errorf("state directory %s still exists after Stop", s.StateDir)
	}
	if _, err := os.Lstat("/run/corridor-test/" + s.Name); err == nil {
		t.Errorf("/run/corridor-test/%s still exists after Stop", s.Name)
	}
	// The log survives Stop, including the shutdown messages.
	l, err = s.Log()
	if err != nil {
		t.Fatalf("Log after Stop: %v", err)
	}
	if !strings.Contains(l, "The SoftEther VPN Server Engine has been successfully shutdown.") {
		t.Errorf("log after Stop lacks the clean shutdown message; tail:\n%s", tail(l, 10))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestStopUnknown: stop is called from cleanup paths after failures, so it
// must succeed for a name that never existed.
func TestStopUnknown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: server.sh manipulates network namespaces")
	}
	name := "nx" + strconv.Itoa(os.Getpid()%10000)
	out, err := exec.Command("bash", Script(), "stop", name).CombinedOutput()
	if err != nil {
		t.Fatalf("server.sh stop %s: %v\n%s", name, err, out)
	}
	// Twice, for good measure.
	if out, err := exec.Command("bash", Script(), "stop", name).CombinedOutput(); err != nil {
		t.Fatalf("second server.sh stop %s: %v\n%s", name, err, out)
	}
}

// TestBadName: server.sh refuses names that would not fit interface names.
func TestBadName(t *testing.T) {
	for _, name := range []string{"toolong7", "Bad", "a/b", ""} {
		if err := exec.Command("bash", Script(), "stop", name).Run(); err == nil {
			t.Errorf("server.sh stop %q succeeded, want an error", name)
		}
	}
}

// TestTwoServersOneClient: a second server joins the first one's client
// namespace with its own veth and VPN nets; stopping it leaves the
// namespace, the first server and its link in place.
func TestTwoServersOneClient(t *testing.T) {
	a := Start(t)
	b := StartWith(t, Options{Net: "10.99.1", VPNNet: "192.168.31", Join: a})
	if b.ClientNS != a.ClientNS || b.Addr != "10.99.1.1" || b.VPNHost != "192.168.31.1" || a.VPNHost != "192.168.30.1" {
		t.Fatalf("a %+v\nb %+v", a, b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range []*Server{a, b} {
		if out, err := s.Command(ctx, "ping", "-c", "1", "-W", "2", s.Addr).CombinedOutput(); err != nil {
			t.Errorf("ping %s from %s: %v\n%s", s.Addr, s.ClientNS, err, out)
		}
	}
	if l, _ := b.Log(); !strings.Contains(l, "SecureNAT has started.") {
		t.Errorf("b's log lacks SecureNAT")
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	var haveClient, haveB bool
	for _, ns := range netnsList(t) {
		haveClient = haveClient || ns == a.ClientNS
		haveB = haveB || ns == b.ServerNS
	}
	if !haveClient || haveB {
		t.Fatalf("after b's stop: client namespace kept %v, b's server namespace kept %v", haveClient, haveB)
	}
	if out, _ := exec.Command("ip", "-n", a.ClientNS, "-br", "link").Output(); strings.Contains(string(out), b.Name+"v1") {
		t.Errorf("b's veth end still in the client namespace:\n%s", out)
	}
	if out, err := a.Command(ctx, "ping", "-c", "1", "-W", "2", a.Addr).CombinedOutput(); err != nil {
		t.Errorf("ping %s after b's stop: %v\n%s", a.Addr, err, out)
	}
}
