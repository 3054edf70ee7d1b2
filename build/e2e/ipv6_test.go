package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestIPv6SoftEther connects with --ipv6 (IPV6CP, RFC 5072) to SoftEther,
// whose PPP speaks IPV6CP. Seen with 5.01.9674: IPCP and the connection
// come up at the usual time, IPV6CP opens about 4 s later (SoftEther
// answers our first IPV6CP request only after its router solicitation
// wait, and Naks our random identifier with one of its own, which we
// take), and IPv4 passes again once it has. SecureNAT sends no router
// advertisement, so no global IPv6 address follows.
func TestIPv6SoftEther(t *testing.T) {
	s := server(t)
	c := startClient(t, s, s.Password, "--ipv6", "-v")
	line := c.waitConnected(30 * time.Second)
	connected := time.Since(c.start)
	t.Logf("%s (%v after start)", line, connected.Round(time.Millisecond))
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(c.stdout(), "ipv6cp:") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	v6line := regexp.MustCompile(`(?m)^ipv6cp: fe80::\S+ peer fe80::\S+$`).FindString(c.stdout())
	if v6line == "" {
		t.Fatalf("IPV6CP did not open within 15 s of connecting:\n%s", c.stdout())
	}
	t.Logf("%s (%v after start)", v6line, time.Since(c.start).Round(100*time.Millisecond))
	if got := ping(t, s, 3); got != 3 {
		t.Errorf("IPv4 ping through the tunnel after IPV6CP: %d of 3 replies", got)
	}
	if code := c.terminate(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0", code)
	}
	log, _ := s.Log()
	for _, l := range regexp.MustCompile(`(?im)^.*ipv6.*$`).FindAllString(log, -1) {
		t.Logf("server log: %s", l)
	}
	for _, l := range strings.Split(c.stderr(), "\n") {
		if strings.Contains(l, "IPv6CP") || strings.Contains(l, "ipv6cp") {
			t.Logf("trace: %s", l)
		}
	}
}
