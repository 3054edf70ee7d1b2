package e2e

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/build/softether"
)

// ikeDeleted matches SoftEther's log line for an IKE SA of a client that
// floated to port 4500 being deleted.
var ikeDeleted = regexp.MustCompile(`IKE Session \(IKE SA\) \d+ \(Client: \d+\) \(\S+:\d+ -> \S+:4500\): This IKE SA is deleted`)

// ipsecConnect brings up L2TP/IPsec with extra flags, checks the stage
// lines, and pings 5/5 through the real TUN device.
func ipsecConnect(t *testing.T, s *softether.Server, wantIKE, wantESP string, extra ...string) *client {
	t.Helper()
	c := startCorridor(t, s, s.Password, s.PSK, append([]string{"-v"}, extra...)...)
	line := c.waitConnected(30 * time.Second)
	t.Logf("%s (%v after start)", line, time.Since(c.start).Round(time.Millisecond))
	out := c.stdout()
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "ike: main mode established ("+wantIKE) {
		t.Errorf("first stage line %q, want ike: main mode established (%s...", lines[0], wantIKE)
	}
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "ipsec: sa established (ESP "+wantESP) || !strings.Contains(lines[1], "udp-encap 4500)") {
		t.Errorf("second stage line %q, want ipsec: sa established (ESP %s..., udp-encap 4500)", lines[1], wantESP)
	}
	for _, want := range []string{"l2tp tunnel up", "ppp auth ok", "ipcp: 192.168.30."} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if got := ping(t, s, 5); got != 5 {
		t.Errorf("ping through L2TP/IPsec: %d of 5 replies", got)
	}
	return c
}

// disconnectClean stops the client and checks the IKE SA was deleted at
// the server and the device is gone.
func disconnectClean(t *testing.T, s *softether.Server, c *client) {
	t.Helper()
	before, _ := s.Log()
	if code := c.terminate(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\nstderr:\n%s", code, c.stderr())
	}
	if deviceExists(s) {
		t.Errorf("device ctest0 still exists after exit")
	}
	var after string
	for i := 0; i < 30; i++ {
		after, _ = s.Log()
		if len(ikeDeleted.FindAllString(after, -1)) > len(ikeDeleted.FindAllString(before, -1)) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("server log shows no deletion of our IKE SA after disconnect (%v)", ikeDeleted)
}

func TestIPsecDefaultProposals(t *testing.T) {
	s := server(t)
	// SoftEther takes the first acceptable phase-1 transform in our order
	// and, in ESP, refuses SHA2 and GCM: AES-CBC-128/HMAC-SHA1-96 wins.
	c := ipsecConnect(t, s, "AES-CBC-256/SHA2-256/MODP2048", "AES-CBC-128/HMAC-SHA1-96")
	disconnectClean(t, s, c)
}

func TestIPsecLegacy(t *testing.T) {
	s := server(t)
	c := ipsecConnect(t, s, "3DES/SHA1/MODP1024", "3DES-CBC/HMAC-SHA1-96",
		"--legacy-crypto", "--ike", "3des-sha1-modp1024", "--esp", "3des-sha1")
	if !strings.Contains(c.stderr(), "warning: legacy crypto enabled") {
		t.Errorf("no legacy warning on stderr")
	}
	disconnectClean(t, s, c)
}

// TestIPsecHold holds a session for 90 s: SoftEther's DPD R-U-THERE every
// 10 s must be answered, NAT keepalives sent, and ping still work.
func TestIPsecHold(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a session for 90 s")
	}
	s := server(t)
	c := ipsecConnect(t, s, "AES-CBC-256", "AES-CBC-128")
	hold := 90 * time.Second
	select {
	case <-c.waited:
		t.Fatalf("corridor exited while holding: %v\n%s", c.err, c.stderr())
	case <-time.After(hold):
	}
	dpd := strings.Count(c.stderr(), `msg="ike recv" msg=R-U-THERE`)
	acks := strings.Count(c.stderr(), `msg="ike send" msg=R-U-THERE-ACK`)
	t.Logf("held %v: server sent %d DPD R-U-THERE, we acked %d", hold, dpd, acks)
	if dpd < 7 || acks != dpd {
		t.Errorf("DPD: %d R-U-THERE, %d acks; want >= 7 (every ~10 s), all acked", dpd, acks)
	}
	if got := ping(t, s, 5); got != 5 {
		t.Errorf("ping after %v: %d of 5", hold, got)
	}
	disconnectClean(t, s, c)
}

// TestIPsecRekey proposes a 60 s ESP lifetime: the client rekeys at 54 s
// while a ping runs every 200 ms, and no reply may be lost.
func TestIPsecRekey(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for 75 s")
	}
	s := server(t)
	c := ipsecConnect(t, s, "AES-CBC-256", "AES-CBC-128", "--esp-lifetime", "60s")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const count = 360 // 72 s at 5 per second
	out, _ := s.Command(ctx, "ping", "-c", "360", "-i", "0.2", "-W", "2", "-I", "ctest0", "192.168.30.1").CombinedOutput()
	m := pingReceived.FindSubmatch(out)
	if m == nil {
		t.Fatalf("ping output not understood:\n%s", out)
	}
	t.Logf("continuous ping across the rekey: %s transmitted, %s received", m[1], m[2])
	if string(m[1]) != "360" || string(m[2]) != "360" {
		t.Errorf("lost replies across the rekey: %s of %d", m[2], count)
	}
	rekeys := strings.Count(c.stdout(), "ipsec: sa rekeyed")
	if rekeys < 1 {
		t.Errorf("no rekey in %d s with a 60 s lifetime:\n%s", count/5, c.stdout())
	}
	t.Logf("%d rekey(s)", rekeys)
	disconnectClean(t, s, c)
}

func ipsecFailure(t *testing.T, psk string, within time.Duration, wantCode int, wantMsg []string, extra ...string) {
	t.Helper()
	s := server(t)
	c := startCorridor(t, s, s.Password, psk, append([]string{"-v"}, extra...)...)
	code, took := c.exit(within + 10*time.Second)
	msg := c.stderr()
	if i := strings.Index(msg, "\ncorridor: "); i >= 0 {
		msg = msg[i+1:]
	}
	t.Logf("exit %d after %v:\n%s", code, took.Round(time.Millisecond), msg)
	if code != wantCode {
		t.Errorf("exit code %d, want %d", code, wantCode)
	}
	if took > within {
		t.Errorf("took %v, want at most %v", took, within)
	}
	for _, w := range wantMsg {
		if !strings.Contains(c.stderr(), w) {
			t.Errorf("stderr lacks %q", w)
		}
	}
	if !strings.Contains(c.stderr(), "hint: ") {
		t.Errorf("no hint")
	}
	if strings.Contains(c.stderr(), psk) || strings.Contains(c.stderr(), s.Password) {
		t.Errorf("stderr contains a secret")
	}
	if deviceExists(s) {
		t.Errorf("device ctest0 exists after a failed connect")
	}
}

func TestIPsecWrongPSK(t *testing.T) {
	ipsecFailure(t, "not-the-psk", 30*time.Second, 3, []string{"the pre-shared key is probably wrong"})
}

func TestIPsecGCMOnly(t *testing.T) {
	ipsecFailure(t, softether.DefaultPSK, 10*time.Second, 5,
		[]string{"accepted none of the encryption settings we offered for phase 2 (aes128gcm16)", "--legacy-crypto"},
		"--esp", "aes128gcm16")
}

// TestProbe lists the families SoftEther answers: MODP with AES/3DES, and
// none of ECP or GCM.
func TestProbe(t *testing.T) {
	s := server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := s.Command(ctx, corridorBin, "probe", s.Addr).CombinedOutput()
	t.Logf("corridor probe (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	for _, f := range []string{"aes256-sha256-modp2048", "aes128-sha1-modp2048", "3des-sha1-modp1024"} {
		if !regexp.MustCompile(`accepted\s+` + f).Match(out) {
			t.Errorf("%s not listed as accepted", f)
		}
	}
	for _, f := range []string{"aes128-sha256-ecp256", "aes256-sha384-ecp384", "aes128gcm16-sha256-modp2048", "aes256gcm16-sha384-ecp384"} {
		if !regexp.MustCompile(`no answer\s+` + f).Match(out) {
			t.Errorf("%s not listed as unanswered", f)
		}
	}
	if !strings.Contains(string(out), "NAT traversal: RFC 3947") {
		t.Errorf("NAT-T flavour not reported")
	}
}
