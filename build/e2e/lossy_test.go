package e2e

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/corridorvpn/corridor/build/softether"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// lossyRelay forwards UDP between a client on 127.0.0.1 and the server,
// inside the client's network namespace, dropping each datagram with
// probability 1/dropOneIn in each direction: a bad link (this kernel has no
// netem). The drops come from a PRNG seeded by the test and logged, so a
// failing run can be replayed with LOSSY_SEED. (Dropping every n-th
// datagram instead kept hitting the same packet of the same exchange.)
type lossyRelay struct {
	listen    *net.UDPConn // the client's side
	upstream  *net.UDPConn // connected to the server
	dropOneIn uint64

	mu     sync.Mutex
	client *net.UDPAddr
	rng    *rand.Rand

	up, down           atomic.Uint64 // datagrams seen
	upDrops, downDrops atomic.Uint64

	// drop, when set, drops the datagrams it picks (on top of the random
	// losses): a loss placed exactly where a test wants it.
	drop func(up bool, b []byte) bool
}

// lossySeed seeds every relay of this test process (plus its port).
var lossySeed = func() uint64 {
	if v, err := strconv.ParseUint(os.Getenv("LOSSY_SEED"), 10, 64); err == nil {
		return v
	}
	return uint64(time.Now().UnixNano())
}()

// inNetns runs fn on a thread inside the network namespace ns, then moves
// the thread back: the sockets fn opens stay in ns, no thread of the test
// does (server.sh stops every process it finds in the namespace).
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return // still locked: the thread is discarded
		}
		defer unix.Close(orig)
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("setns back: %w", err))
			return // still locked: the thread, stuck in ns, is discarded
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// startLossyRelay listens on 127.0.0.1:port in the client namespace and
// relays to the server's port, dropping one datagram in dropOneIn at
// random each way (0: none).
func startLossyRelay(t *testing.T, s *softether.Server, port int, dropOneIn uint64) *lossyRelay {
	t.Helper()
	return startRelay(t, s, port, dropOneIn, lossySeed)
}

func startRelay(t *testing.T, s *softether.Server, port int, dropOneIn, lossySeed uint64) *lossyRelay {
	t.Helper()
	seed := lossySeed + uint64(port)
	if dropOneIn > 0 {
		t.Logf("relay %d: drop 1 in %d at random (LOSSY_SEED=%d gives the same drop decisions)", port, dropOneIn, lossySeed)
	}
	r := &lossyRelay{dropOneIn: dropOneIn, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	err := inNetns(s.ClientNS, func() error {
		var err error
		if r.listen, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err != nil {
			return err
		}
		r.upstream, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(s.Addr), Port: port})
		return err
	})
	if err != nil {
		t.Fatalf("relay on port %d: %v", port, err)
	}
	t.Cleanup(func() {
		r.listen.Close()
		r.upstream.Close()
		t.Logf("relay %d: client->server %d datagrams, %d dropped; server->client %d, %d dropped",
			port, r.up.Load(), r.upDrops.Load(), r.down.Load(), r.downDrops.Load())
	})
	go r.pump(true)
	go r.pump(false)
	return r
}

func (r *lossyRelay) pump(up bool) {
	buf := make([]byte, 65536)
	for {
		var n int
		var err error
		if up {
			var from *net.UDPAddr
			n, from, err = r.listen.ReadFromUDP(buf)
			if err == nil {
				r.mu.Lock()
				r.client = from
				r.mu.Unlock()
			}
		} else {
			n, err = r.upstream.Read(buf)
		}
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // e.g. ICMP port unreachable reported on the socket
		}
		count, drops := &r.down, &r.downDrops
		if up {
			count, drops = &r.up, &r.upDrops
		}
		count.Add(1)
		r.mu.Lock()
		drop := r.dropOneIn > 0 && r.rng.Uint64N(r.dropOneIn) == 0
		if r.drop != nil && r.drop(up, buf[:n]) {
			drop = true
		}
		r.mu.Unlock()
		if drop {
			drops.Add(1)
			continue
		}
		if up {
			r.upstream.Write(buf[:n])
			continue
		}
		r.mu.Lock()
		to := r.client
		r.mu.Unlock()
		if to != nil {
			r.listen.WriteToUDP(buf[:n], to)
		}
	}
}

// lossyEnabled skips the random-loss tests unless build/lossy.sh asks for
// them: at 10 % loss each way a run can lose more than any bounded number
// of retries repairs (rarely, but not never), so they measure a rate over
// many seeds there and stay out of make test, which must not fail by
// chance. make test covers the losses that matter with exact drops
// (TestLostCHAPSuccess*).
func lossyEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv("CORRIDOR_LOSSY") == "" {
		t.Skip("random 10% loss: run by build/lossy.sh (CORRIDOR_LOSSY=1), not by make test")
	}
}

// lossyConnect connects through relays that lose one datagram in ten each
// way (at random), then pings 20 times. One attempt: corridor itself must
// repair what the losses break (a lost CHAP Success included).
func lossyConnect(t *testing.T, ipsec bool) {
	lossyEnabled(t)
	const dropOneIn = 10
	s := server(t)
	psk := ""
	if ipsec {
		psk = s.PSK
		startLossyRelay(t, s, 500, dropOneIn)
		startLossyRelay(t, s, 4500, dropOneIn)
	} else {
		startLossyRelay(t, s, 1701, dropOneIn)
	}
	c := startCorridorAt(t, s, "127.0.0.1", s.Password, psk, "-v")
	line, code := c.waitConnectedOrExit(60 * time.Second)
	if line == "" {
		t.Fatalf("exit %d after %v; stderr:\n%s", code, time.Since(c.start).Round(time.Millisecond), c.stderr())
	}
	t.Logf("%s (%v after start, one datagram in %d lost each way)", line, time.Since(c.start).Round(time.Millisecond), dropOneIn)
	defer func() {
		if t.Failed() || os.Getenv("LOSSY_TRACE") != "" {
			t.Logf("corridor stderr:\n%s", c.stderr())
		}
	}()
	got := ping(t, s, 20)
	t.Logf("ping through the lossy tunnel: %d of 20 replies", got)
	// Each ping crosses the relay twice: about 0.9 * 0.9 of 20 = 16 expected.
	if got < 10 {
		t.Errorf("ping: %d of 20 replies, want at least 10 over a link losing 10%% each way", got)
	}
	if code := c.terminate(); code != 0 {
		t.Errorf("exit code after SIGTERM = %d, want 0\nstderr tail:\n%s", code, tail(c.stderr(), 20))
	}
	if deviceExists(s) {
		t.Error("device ctest0 still exists after exit")
	}
}

// TestLossyConnectRuns: LOSSY_RUNS (default 50) runs of corridor connect
// over raw L2TP through a relay losing 10 % each way, each with its own
// seed (LOSSY_SEED+run), one attempt each. It reports how many connected
// and the median time to "connected:", and fails below LOSSY_MIN
// (default: all but one) or above a median of 3 s. build/lossy.sh runs it.
func TestLossyConnectRuns(t *testing.T) {
	lossyEnabled(t)
	runs := 50
	if v, err := strconv.Atoi(os.Getenv("LOSSY_RUNS")); err == nil && v > 0 {
		runs = v
	}
	minOK := runs - 1
	if v, err := strconv.Atoi(os.Getenv("LOSSY_MIN")); err == nil {
		minOK = v
	}
	var times []time.Duration
	var failed []string
	for i := 0; i < runs; i++ {
		seed := lossySeed + uint64(i)*1000003
		ok := t.Run(fmt.Sprintf("run%02d", i), func(t *testing.T) {
			// A server of its own per run: a run whose teardown the
			// losses cut short leaves this Debian build of SoftEther
			// wedged for raw L2TP (DESIGN.md 3), and the next run would
			// measure that instead.
			s := server(t)
			r := startRelay(t, s, 1701, 10, seed)
			c := startCorridorAt(t, s, "127.0.0.1", s.Password, "", "-v")
			line, code := c.waitConnectedOrExit(60 * time.Second)
			d := time.Since(c.start)
			if line == "" {
				f := fmt.Sprintf("seed %d: exit %d after %v: %s", seed, code, d.Round(time.Millisecond), strings.TrimSpace(tail(c.stderr(), 1)))
				t.Log(f)
				t.Logf("stderr (last 80 lines):\n%s", tail(c.stderr(), 80))
				failed = append(failed, f)
				return
			}
			times = append(times, d)
			retries := strings.Count(c.stdout(), "trying again in a new l2tp session")
			t.Logf("seed %d: connected after %v (%d new l2tp sessions)", seed, d.Round(time.Millisecond), retries)
			if d > 3*time.Second {
				c.mu.Lock()
				t.Logf("stages:\n  %s", strings.Join(c.stamped, "\n  "))
				c.mu.Unlock()
			}
			if code := c.terminate(); code != 0 {
				t.Errorf("exit code after SIGTERM = %d, want 0", code)
			}
			r.listen.Close() // free port 1701 for the next run's relay
			r.upstream.Close()
		})
		_ = ok
	}
	slices.Sort(times)
	var median time.Duration
	if len(times) > 0 {
		median = times[len(times)/2]
	}
	t.Logf("lossy connect: %d of %d runs connected, median %v; failures: %d", len(times), runs, median.Round(time.Millisecond), len(failed))
	for _, f := range failed {
		t.Log("  " + f)
	}
	if len(times) < minOK {
		t.Errorf("%d of %d connected, want at least %d", len(times), runs, minOK)
	}
	if median > 3*time.Second {
		t.Errorf("median connect time %v, want at most 3s", median)
	}
}

// isCHAPSuccess reports whether b is a raw-L2TP data message carrying a
// CHAP Success (RFC 1994 4.2, code 3) from the server.
func isCHAPSuccess(b []byte) bool {
	h, off, end, err := l2tp.ParseHeader(b)
	if err != nil || h.Control {
		return false
	}
	proto, payload, err := ppp.ParseFrame(b[off:end])
	return err == nil && proto == ppp.ProtoCHAP && len(payload) > 0 && payload[0] == ppp.CHAPSuccess
}

// dropFirstSuccesses makes relay r drop the first n CHAP Successes the
// server sends, and counts them in *dropped.
func dropFirstSuccesses(r *lossyRelay, n int, dropped *atomic.Int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.drop = func(up bool, b []byte) bool {
		if up || !isCHAPSuccess(b) || dropped.Load() >= int32(n) {
			return false
		}
		dropped.Add(1)
		return true
	}
}

// TestLostCHAPSuccess: SoftEther never sends a CHAP Success again, so a
// lost one used to cost the 20 s authentication timeout and an exit.
// Now corridor starts PPP over in a new L2TP session and connects within
// seconds, verifying the MS-CHAPv2 authenticator of the attempt that
// succeeds (a wrong one would fail it). Losing the first two costs two
// new sessions.
func TestLostCHAPSuccess(t *testing.T) {
	s := server(t)
	for _, lose := range []int{1, 2} {
		t.Run(fmt.Sprintf("lose%d", lose), func(t *testing.T) {
			r := startRelay(t, s, 1701, 0, 0)
			var dropped atomic.Int32
			dropFirstSuccesses(r, lose, &dropped)
			c := startCorridorAt(t, s, "127.0.0.1", s.Password, "", "-v")
			line, code := c.waitConnectedOrExit(40 * time.Second)
			d := time.Since(c.start)
			if line == "" {
				t.Fatalf("exit %d after %v, want a connection", code, d)
			}
			if got := dropped.Load(); got != int32(lose) {
				t.Fatalf("relay dropped %d CHAP Successes, want %d", got, lose)
			}
			if n := strings.Count(c.stdout(), "trying again in a new l2tp session"); n != lose {
				t.Errorf("%d new l2tp sessions, want %d:\n%s", n, lose, c.stdout())
			}
			t.Logf("%d CHAP Success(es) lost: %s after %v", lose, line, d.Round(time.Millisecond))
			// Each lost Success costs the wait for the response's resend
			// (about 2 s) plus a new session; the old code took the 20 s
			// authentication timeout and then gave up.
			if limit := time.Duration(lose) * 6 * time.Second; d > limit {
				t.Errorf("connected after %v, want within %v", d, limit)
			}
			if got := ping(t, s, 3); got < 2 {
				t.Errorf("ping: %d of 3 replies", got)
			}
			if code := c.terminate(); code != 0 {
				t.Errorf("exit code after SIGTERM = %d, want 0", code)
			}
			r.listen.Close()
			r.upstream.Close()
		})
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestLossyLinkL2TP: raw L2TP over a link that loses 10 % each way.
func TestLossyLinkL2TP(t *testing.T) { lossyConnect(t, false) }

// TestLossyLinkIPsec: L2TP/IPsec (IKE on 500, NAT-T on 4500) over a link
// that loses 10 % each way.
func TestLossyLinkIPsec(t *testing.T) { lossyConnect(t, true) }

// TestDaemonLossyLink: the helper connects a raw-L2TP profile through the
// relay that loses one datagram in ten each way. When the first attempt
// loses what SoftEther cannot send again (its CHAP Success), the helper
// tries once more by itself (its log shows "reconnecting in 1s").
func TestDaemonLossyLink(t *testing.T) {
	lossyEnabled(t)
	s := server(t)
	startLossyRelay(t, s, 1701, 10)
	r := newDaemonRig(t, s)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte(s.Password+"\n"), 0o600)
	if out, code := r.cli(30*time.Second, "", "profile", "add", "lossy", "--server", "127.0.0.1", "--no-ipsec",
		"--user", s.User, "--password-file", pw); code != 0 {
		t.Fatalf("profile add: exit %d\n%s", code, out)
	}
	// The helper tries a first connect once more by itself; if both lose
	// what SoftEther does not resend (1 in 100 or so), the user clicks
	// Connect again: so does the test, once.
	var out string
	code := -1
	for i := 1; i <= 2 && code != 0; i++ {
		start := time.Now()
		out, code = r.cli(150*time.Second, "", "up", "lossy", "--wait", "120s")
		t.Logf("corridor up #%d (%v, exit %d):\n%s", i, time.Since(start).Round(time.Millisecond), code, out)
		if code != 0 && code != 4 {
			break
		}
	}
	if code != 0 || !strings.Contains(out, "connected: lossy interface corridor0") {
		t.Fatalf("up over the lossy link: exit %d", code)
	}
	got := pingIf(t, s, "corridor0", 20)
	t.Logf("ping through the lossy tunnel: %d of 20 replies", got)
	if got < 10 {
		t.Errorf("ping: %d of 20 replies, want at least 10", got)
	}
	if out, code := r.cli(30*time.Second, "", "down", "lossy"); code != 0 {
		t.Errorf("down: exit %d\n%s", code, out)
	}
}

// TestDaemonLostCHAPSuccess: the helper, too, starts PPP over in a new
// L2TP session when the server's CHAP Success is lost, and connects on
// its first attempt instead of reconnecting after the 20 s timeout.
func TestDaemonLostCHAPSuccess(t *testing.T) {
	s := server(t)
	relay := startRelay(t, s, 1701, 0, 0)
	var dropped atomic.Int32
	dropFirstSuccesses(relay, 1, &dropped)
	r := newDaemonRig(t, s)
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte(s.Password+"\n"), 0o600)
	if out, code := r.cli(30*time.Second, "", "profile", "add", "lossy", "--server", "127.0.0.1", "--no-ipsec",
		"--user", s.User, "--password-file", pw); code != 0 {
		t.Fatalf("profile add: exit %d\n%s", code, out)
	}
	start := time.Now()
	out, code := r.cli(90*time.Second, "", "up", "lossy", "--wait", "60s")
	d := time.Since(start)
	t.Logf("corridor up (%v, exit %d):\n%s", d.Round(time.Millisecond), code, out)
	if code != 0 || !strings.Contains(out, "connected: lossy interface corridor0") {
		t.Fatalf("up with a lost CHAP Success: exit %d", code)
	}
	if dropped.Load() != 1 {
		t.Fatalf("relay dropped %d CHAP Successes, want 1", dropped.Load())
	}
	if !strings.Contains(out, "trying again in a new l2tp session") || strings.Contains(out, "reconnecting") {
		t.Errorf("want one new l2tp session and no reconnect:\n%s", out)
	}
	if d > 20*time.Second {
		t.Errorf("connected after %v, want within 20 s", d)
	}
	if out, code := r.cli(30*time.Second, "", "down", "lossy"); code != 0 {
		t.Errorf("down: exit %d\n%s", code, out)
	}
}

// TestLostServerPacketStartsOver: SoftEther resends a lost LCP
// Configure-Request or CHAP Challenge only after its ~3 s restart timer;
// corridor notices the silence after 1 s and starts over in a new L2TP
// session instead.
func TestLostServerPacketStartsOver(t *testing.T) {
	s := server(t)
	for _, c := range []struct {
		name  string
		proto ppp.Protocol
		code  byte
	}{
		{"lcp-request", ppp.ProtoLCP, byte(ppp.CodeConfReq)},
		{"chap-challenge", ppp.ProtoCHAP, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := startRelay(t, s, 1701, 0, 0)
			var dropped atomic.Int32
			r.mu.Lock()
			r.drop = func(up bool, b []byte) bool {
				if up || dropped.Load() > 0 {
					return false
				}
				h, off, end, err := l2tp.ParseHeader(b)
				if err != nil || h.Control {
					return false
				}
				proto, payload, err := ppp.ParseFrame(b[off:end])
				if err != nil || proto != c.proto || len(payload) == 0 || payload[0] != c.code {
					return false
				}
				dropped.Add(1)
				return true
			}
			r.mu.Unlock()
			cl := startCorridorAt(t, s, "127.0.0.1", s.Password, "", "-v")
			line, code := cl.waitConnectedOrExit(40 * time.Second)
			d := time.Since(cl.start)
			if line == "" {
				t.Fatalf("exit %d after %v, want a connection", code, d)
			}
			if dropped.Load() != 1 {
				t.Fatalf("relay dropped %d packets, want 1", dropped.Load())
			}
			t.Logf("server's first %s lost: %s after %v", c.name, line, d.Round(time.Millisecond))
			if !strings.Contains(cl.stdout(), "trying again in a new l2tp session") {
				t.Errorf("no new l2tp session:\n%s", cl.stdout())
			}
			// About 2.2 s here; before, the server's own resend came
			// after ~3 s and connecting took ~4 s. The new session above
			// is the proof; the bound only catches a hang.
			if d > 6*time.Second {
				t.Errorf("connected after %v, want within 6 s", d)
			}
			if code := cl.terminate(); code != 0 {
				t.Errorf("exit code after SIGTERM = %d, want 0", code)
			}
			r.listen.Close()
			r.upstream.Close()
		})
	}
}
