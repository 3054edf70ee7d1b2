package ike

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/l2tp"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// testReader runs ReadPacket in a loop, as the L2TP layer does, and
// hands on copies of the L2TP payloads.
type testReader struct {
	pkts    chan []byte
	done    chan struct{}
	err     error // why the loop ended; read after done
	dropped atomic.Int64
}

func startReader(t testing.TB, c *Conn) *testReader {
	rd := &testReader{pkts: make(chan []byte, 4096), done: make(chan struct{})}
	go func() {
		defer close(rd.done)
		buf := make([]byte, 4096)
		// Bounded by Close (the cleanup below), which makes ReadPacket fail.
		for i := 0; i < 10_000_000; i++ {
			off, n, err := c.ReadPacket(buf)
			if errors.Is(err, l2tp.ErrDropped) {
				rd.dropped.Add(1)
				continue
			}
			if err != nil {
				rd.err = err
				return
			}
			select {
			case rd.pkts <- bytes.Clone(buf[off : off+n]):
			default:
			}
		}
	}()
	t.Cleanup(func() {
		c.Close()
		select {
		case <-rd.done:
		case <-time.After(5 * time.Second):
			t.Error("ReadPacket did not return after Close")
		}
	})
	return rd
}

// wait waits for the reader to end and returns why it did.
func (rd *testReader) wait(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case <-rd.done:
		return rd.err
	case <-time.After(d):
		t.Fatalf("ReadPacket still running after %v", d)
		return nil
	}
}

// stageLog collects OnStage lines.
type stageLog struct {
	mu    sync.Mutex
	s     []string
	kinds []StageKind
}

func (l *stageLog) add(s Stage) {
	l.mu.Lock()
	l.s = append(l.s, s.String())
	l.kinds = append(l.kinds, s.Kind)
	l.mu.Unlock()
}

func (l *stageLog) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.s {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func (l *stageLog) String() string { l.mu.Lock(); defer l.mu.Unlock(); return strings.Join(l.s, "; ") }

func dialTest(cfg Config) (*Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Dial(ctx, loopback, cfg)
}

func mustDial(t testing.TB, cfg Config) (*Conn, *testReader) {
	t.Helper()
	c, err := dialTest(cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	return c, startReader(t, c)
}

// writeL2TP sends p through c, with room around it or without.
func writeL2TP(c *Conn, p []byte, room bool) error {
	if room {
		buf := make([]byte, 64+len(p), 64+len(p)+64)
		copy(buf[64:], p)
		return c.WritePacket(buf, 64)
	}
	return c.WritePacket(bytes.Clone(p), 0)
}

// echo sends p and expects it back from the responder.
func echo(t testing.TB, c *Conn, rd *testReader, p []byte, room bool) {
	t.Helper()
	if err := writeL2TP(c, p, room); err != nil {
		t.Fatalf("WritePacket: %v", err)
	}
	select {
	case got := <-rd.pkts:
		if !bytes.Equal(got, p) {
			t.Fatalf("echo of %d bytes came back as %d bytes % x...", len(p), len(got), got[:min(len(got), 16)])
		}
	case <-time.After(2 * time.Second):
		t.Fatalf("no echo of %d bytes (reader: %d dropped)", len(p), rd.dropped.Load())
	}
}

// l2tpPayload is a payload of n bytes that names i.
func l2tpPayload(i, n int) []byte {
	p := make([]byte, n)
	for j := range p {
		p[j] = byte(i*31 + j)
	}
	binary.BigEndian.PutUint32(p, uint32(i))
	return p
}

func mustESP(t testing.TB, list string) []ESPSuite {
	s, err := ParseESP(list, true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustIKE(t testing.TB, list string) []IKESuite {
	s, err := ParseIKE(list, true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDialAndEcho(t *testing.T) {
	cases := []struct {
		name     string
		n        int // payloads echoed
		setup    func(r *testResponder, cfg *Config)
		wantIKE  string
		wantESP  string
		wantNATT string
		wantNAT  bool
	}{
		{name: "defaults", n: 100, wantIKE: "aes256-sha256-modp2048", wantESP: "aes128gcm16"},
		{name: "server picks aes128-sha1 and aes256-sha1", n: 20, setup: func(r *testResponder, cfg *Config) {
			r.ikeAccept = mustIKE(t, "aes128-sha1-modp2048")
			r.espAccept = mustESP(t, "aes256-sha1")
		}, wantIKE: "aes128-sha1-modp2048", wantESP: "aes256-sha1"},
		{name: "aes256-sha256 esp", n: 20, setup: func(r *testResponder, cfg *Config) {
			r.espAccept = mustESP(t, "aes256-sha256,aes128gcm16")
			cfg.ESP = mustESP(t, "aes256-sha256,aes128gcm16")
		}, wantIKE: "aes256-sha256-modp2048", wantESP: "aes256-sha256"},
		{name: "legacy 3des-md5-modp1024 and 3des-sha1", n: 20, setup: func(r *testResponder, cfg *Config) {
			cfg.IKE = mustIKE(t, "3des-md5-modp1024")
			cfg.ESP = mustESP(t, "3des-sha1")
		}, wantIKE: "3des-md5-modp1024", wantESP: "3des-sha1"},
		{name: "legacy aes128-md5 esp, 3des-sha1-modp1536", n: 20, setup: func(r *testResponder, cfg *Config) {
			cfg.IKE = mustIKE(t, "3des-sha1-modp1536")
			r.ikeAccept = cfg.IKE
			cfg.ESP = mustESP(t, "aes128-md5,3des-md5")
			r.espAccept = mustESP(t, "3des-md5,aes128-md5")
		}, wantIKE: "3des-sha1-modp1536", wantESP: "aes128-md5"},
		{name: "sha512 modp4096, aes256gcm16", n: 20, setup: func(r *testResponder, cfg *Config) {
			cfg.IKE = mustIKE(t, "aes256-sha512-modp4096,aes128-sha384-modp3072")
			r.ikeAccept = mustIKE(t, "aes128-sha384-modp3072,aes256-sha512-modp4096")
			cfg.ESP = mustESP(t, "aes256gcm16")
		}, wantIKE: "aes256-sha512-modp4096", wantESP: "aes256gcm16"},
		{name: "PFS modp2048", n: 20, setup: func(r *testResponder, cfg *Config) {
			cfg.ESP = mustESP(t, "aes128-sha256-modp2048,aes128gcm16-modp2048")
			r.espAccept = cfg.ESP
		}, wantIKE: "aes256-sha256-modp2048", wantESP: "aes128-sha256-modp2048"},
		{name: "draft NAT-T", n: 20, setup: func(r *testResponder, cfg *Config) {
			r.draftNATT = true
		}, wantIKE: "aes256-sha256-modp2048", wantESP: "aes128gcm16", wantNATT: "draft"},
		{name: "true NAT-D hash", n: 20, setup: func(r *testResponder, cfg *Config) {
			cfg.NoForceEncaps = true
		}, wantIKE: "aes256-sha256-modp2048", wantESP: "aes128gcm16"},
		{name: "NAT in front of the client", n: 20, setup: func(r *testResponder, cfg *Config) {
			r.fakeNAT = true
		}, wantIKE: "aes256-sha256-modp2048", wantESP: "aes128gcm16", wantNAT: true},
		{name: "MM2 twice", n: 20, setup: func(r *testResponder, cfg *Config) {
			r.dupMM2 = true
		}, wantIKE: "aes256-sha256-modp2048", wantESP: "aes128gcm16"},
		{name: "no DPD", n: 20, setup: func(r *testResponder, cfg *Config) {
			r.noDPD = true
		}, wantIKE: "aes256-sha256-modp2048", wantESP: "aes128gcm16"},
		{name: "L2TP port 1702 (the peer checks the inner UDP header)", n: 0, setup: func(r *testResponder, cfg *Config) {
			cfg.L2TPPort = 1702
		}, wantIKE: "aes256-sha256-modp2048", wantESP: "aes128gcm16"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestResponder(t, "secret psk")
			cfg := r.config()
			// The counts of IKE messages below hold when nothing is
			// retransmitted: loopback loses nothing, but a responder slow
			// with MODP4096 on a loaded machine could overtake 50 ms.
			cfg.Retransmit = []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
			var stages stageLog
			cfg.OnStage = stages.add
			if tc.setup != nil {
				tc.setup(r, &cfg)
			}
			r.start()
			c, rd := mustDial(t, cfg)
			info := c.Info()
			if info.IKE.Notation() != tc.wantIKE || info.ESP.Notation() != tc.wantESP {
				t.Errorf("negotiated %s / %s, want %s / %s", info.IKE.Notation(), info.ESP.Notation(), tc.wantIKE, tc.wantESP)
			}
			wantNATT := tc.wantNATT
			if wantNATT == "" {
				wantNATT = "RFC 3947"
			}
			if info.NATT != wantNATT || info.NAT != tc.wantNAT {
				t.Errorf("NAT-T %q NAT %v, want %q %v", info.NATT, info.NAT, wantNATT, tc.wantNAT)
			}
			if !r.waitFor(time.Second, func(s rStats) bool { return s.qmDone == 1 }) {
				t.Fatal("the responder did not complete Quick Mode")
			}
			ourSPI, initSPI, _ := r.child(0)
			if info.OutSPI != ourSPI || info.InSPI != initSPI || info.InSPI == info.OutSPI || info.InSPI < 0x80000000 {
				t.Errorf("SPIs in %08x out %08x; the responder has in %08x out %08x", info.InSPI, info.OutSPI, ourSPI, initSPI)
			}
			if info.Server != netip.AddrPortFrom(loopback, r.nattPort) || info.Local.Addr() != loopback || info.Lifetime != time.Hour {
				t.Errorf("info %+v", info)
			}
			if stages.count("ike: main mode established") != 1 || stages.count("ipsec: sa established") != 1 {
				t.Errorf("stages: %s", stages.String())
			}
			for i := 0; i < tc.n; i++ {
				// Sizes from a bare L2TP header to a full PPP frame; some
				// without head- or tailroom.
				echo(t, c, rd, l2tpPayload(i, 12+(i*137)%1400), i%3 != 0)
			}
			if tc.n == 0 {
				// Our inner UDP header says 1702: the responder drops it.
				if err := writeL2TP(c, l2tpPayload(1, 40), true); err != nil {
					t.Fatal(err)
				}
				if !r.waitFor(time.Second, func(s rStats) bool { return s.espBad == 1 }) {
					t.Error("the responder did not see the datagram")
				}
			}
			s := r.stats()
			if s.espOnIKE != 0 || s.mm5OnIKE != 0 {
				t.Errorf("%d non-IKE datagrams and %d MM5 on the IKE port", s.espOnIKE, s.mm5OnIKE)
			}
			if s.espOnNATT < tc.n || s.espEchoed != tc.n || s.espUnknownSPI != 0 || s.badHash != 0 {
				t.Errorf("ESP on 4500: %d, echoed %d, unknown SPI %d, bad hashes %d", s.espOnNATT, s.espEchoed, s.espUnknownSPI, s.badHash)
			}
			// MM1 and MM3 on the IKE port; MM5 and QM1, QM3 on 4500 with the marker.
			wantOnIKE := 2
			if tc.name == "MM2 twice" {
				wantOnIKE = 3 // MM3 twice
			}
			if s.ikeOnIKE != wantOnIKE || s.ikeOnNATT < 3 || s.mm5 < 1 {
				t.Errorf("IKE on 500: %d, on 4500: %d, MM5 %d", s.ikeOnIKE, s.ikeOnNATT, s.mm5)
			}
			if !s.natdServerOK || s.natSeen != !cfg.NoForceEncaps {
				t.Errorf("NAT-D: server hash ok %v, NAT seen at the client %v", s.natdServerOK, s.natSeen)
			}
			if !s.initialContact || !s.lastQMHadNATOA {
				t.Errorf("INITIAL-CONTACT %v, NAT-OA in QM1 %v", s.initialContact, s.lastQMHadNATOA)
			}
			wantEncap := uint64(encapUDPTransportRFC)
			if tc.wantNATT == "draft" {
				wantEncap = encapUDPTransportDraft
			}
			if s.lastQMEncap != wantEncap {
				t.Errorf("encapsulation mode %d", s.lastQMEncap)
			}
			if strings.HasSuffix(tc.wantESP, "modp2048") != s.pfsUsed {
				t.Errorf("PFS used: %v", s.pfsUsed)
			}
			// The repeated MM2 makes the initiator repeat MM3 (and the
			// responder MM4, which may or may not arrive in time to make
			// the initiator repeat MM5).
			if tc.name == "MM2 twice" && s.mm3 != 2 {
				t.Errorf("MM3 %d times: the repeated MM2 was not answered", s.mm3)
			}
			if err := c.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}

func TestDialFailures(t *testing.T) {
	cases := []struct {
		name  string
		setup func(r *testResponder, cfg *Config)
		check func(t *testing.T, err error, s rStats)
	}{
		{"silent server", func(r *testResponder, cfg *Config) { r.silent = true }, func(t *testing.T, err error, s rStats) {
			if !errors.Is(err, ErrNoAnswer) || s.mm1 != 3 {
				t.Errorf("%v after %d MM1", err, s.mm1)
			}
		}},
		{"wrong PSK, MM5 dropped", func(r *testResponder, cfg *Config) { r.dropMM5 = true }, func(t *testing.T, err error, s rStats) {
			// 3 MM5 (the retransmissions), or one more when the
			// responder was slow to MM3 (a loaded machine): our MM3
			// went again, its second MM4 made us send MM5 again.
			if !errors.Is(err, ErrPSK) || s.mm5 < 3 || s.mm5 > 4 {
				t.Errorf("%v after %d MM5", err, s.mm5)
			}
		}},
		{"wrong PSK, INVALID-COOKIE", func(r *testResponder, cfg *Config) { r.invalidMM5 = NotifyInvalidCookie }, func(t *testing.T, err error, s rStats) {
			if !errors.Is(err, ErrPSK) || !strings.Contains(err.Error(), "INVALID-COOKIE") {
				t.Errorf("%v", err)
			}
		}},
		{"INVALID-ID-INFORMATION to MM5", func(r *testResponder, cfg *Config) { r.invalidMM5 = NotifyInvalidIDInformation }, func(t *testing.T, err error, s rStats) {
			var ne *NotifyError
			if !errors.As(err, &ne) || ne.Phase != "phase 1" || ne.Type != NotifyInvalidIDInformation {
				t.Errorf("%v", err)
			}
		}},
		{"wrong PSK at the server, HASH_R fails", func(r *testResponder, cfg *Config) { r.wrongPSK = true }, func(t *testing.T, err error, s rStats) {
			if !errors.Is(err, ErrPeerAuth) {
				t.Errorf("%v", err)
			}
		}},
		{"no phase-1 proposal chosen", func(r *testResponder, cfg *Config) { r.noProposalP1 = true }, func(t *testing.T, err error, s rStats) {
			var ne *NotifyError
			if !errors.As(err, &ne) || ne.Phase != "phase 1" || ne.Type != NotifyNoProposalChosen || ne.Offer != Notations(DefaultIKE) {
				t.Errorf("%#v", err)
			}
			if !strings.Contains(err.Error(), "aes256-sha256-modp2048") {
				t.Errorf("%q does not list the offer", err)
			}
		}},
		{"phase-1 offer and server share nothing", func(r *testResponder, cfg *Config) {
			cfg.IKE = mustIKE(t, "aes128-sha1-modp2048")
			r.ikeAccept = mustIKE(t, "aes256-sha256-modp2048")
		}, func(t *testing.T, err error, s rStats) {
			var ne *NotifyError
			if !errors.As(err, &ne) || ne.Type != NotifyNoProposalChosen || ne.Offer != "aes128-sha1-modp2048" {
				t.Errorf("%v", err)
			}
		}},
		{"no phase-2 proposal chosen", func(r *testResponder, cfg *Config) { r.noProposalP2 = true }, func(t *testing.T, err error, s rStats) {
			var ne *NotifyError
			if !errors.As(err, &ne) || ne.Phase != "phase 2" || ne.Type != NotifyNoProposalChosen || ne.Offer != Notations(DefaultESP) {
				t.Errorf("%v", err)
			}
		}},
		{"phase-2 offer and server share nothing", func(r *testResponder, cfg *Config) {
			r.espAccept = mustESP(t, "3des-sha1")
		}, func(t *testing.T, err error, s rStats) {
			var ne *NotifyError
			if !errors.As(err, &ne) || ne.Phase != "phase 2" || !strings.Contains(err.Error(), "we offered aes128gcm16,") {
				t.Errorf("%v", err)
			}
		}},
		{"quick mode unanswered", func(r *testResponder, cfg *Config) { r.noQM = true }, func(t *testing.T, err error, s rStats) {
			if !errors.Is(err, ErrQuickMode) {
				t.Errorf("%v", err)
			}
		}},
		{"no NAT-T", func(r *testResponder, cfg *Config) { r.noNATT = true }, func(t *testing.T, err error, s rStats) {
			if !errors.Is(err, ErrNoNATT) || s.mm3 != 0 {
				t.Errorf("%v, MM3 %d", err, s.mm3)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResponder(t, "secret psk")
			cfg := r.config()
			tc.setup(r, &cfg)
			r.start()
			start := time.Now()
			c, err := dialTest(cfg)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Dial took %v", d)
			}
			if strings.Contains(err.Error(), "secret psk") {
				t.Errorf("the error shows the PSK: %v", err)
			}
			tc.check(t, err, r.stats())
			if errors.Is(err, ErrQuickMode) || strings.Contains(err.Error(), "phase 2") {
				// The IKE SA is deleted when Quick Mode fails.
				if !r.waitFor(time.Second, func(s rStats) bool { return len(s.deletes) == 1 && s.deletes[0].proto == protoISAKMP }) {
					t.Errorf("no Delete of the IKE SA: %+v", r.stats().deletes)
				}
			}
		})
	}
}

func TestDialArguments(t *testing.T) {
	for name, c := range map[string]struct {
		server netip.Addr
		cfg    Config
	}{
		"IPv6 server": {netip.MustParseAddr("::1"), Config{PSK: []byte("k")}},
		"no PSK":      {loopback, Config{}},
		"mixed PFS":   {loopback, Config{PSK: []byte("k"), ESP: mustESP(t, "aes128gcm16,aes128gcm16-modp2048")}},
	} {
		if conn, err := Dial(context.Background(), c.server, c.cfg); err == nil {
			conn.Close()
			t.Errorf("%s: Dial succeeded", name)
		}
	}
}

func TestDialEmptyOffer(t *testing.T) {
	r := newTestResponder(t, "k").start()
	cfg := r.config()
	cfg.ESP = []ESPSuite{}
	var err error
	panicked := func() (p any) {
		defer func() { p = recover() }()
		var c *Conn
		if c, err = dialTest(cfg); err == nil {
			c.Close()
		}
		return nil
	}()
	if panicked != nil {
		t.Fatalf("bug: Dial panics with an empty, non-nil ESP list (%v): setDefaults only replaces nil lists and checkPFS slices ss[1:]", panicked)
	}
	// An error, or the defaults offered: either will do.
	if err == nil && !r.waitFor(time.Second, func(s rStats) bool { return s.qmDone == 1 }) {
		t.Errorf("Dial succeeded without Quick Mode")
	}
}

func TestDialCancel(t *testing.T) {
	r := newTestResponder(t, "k")
	r.silent = true
	r.start()
	cfg := r.config()
	cfg.Retransmit = []time.Duration{5 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, loopback, cfg)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("%v after %v", err, time.Since(start))
	}
}

func TestDropFirstQM3(t *testing.T) {
	r := newTestResponder(t, "k")
	r.dropFirstQM3 = true
	r.start()
	c, rd := mustDial(t, r.config())
	// The responder repeats QM2; the IKE goroutine repeats QM3.
	if !r.waitFor(2*time.Second, func(s rStats) bool { return s.qmDone == 1 }) {
		t.Fatalf("Quick Mode never completed: %+v", r.stats())
	}
	if s := r.stats(); s.qm3Dropped != 1 || s.qm1 != 1 {
		t.Errorf("QM3 dropped %d, QM1 %d", s.qm3Dropped, s.qm1)
	}
	for i := 0; i < 5; i++ {
		echo(t, c, rd, l2tpPayload(i, 100), true)
	}
}

func TestDPDAnswer(t *testing.T) {
	r := newTestResponder(t, "k").start()
	c, _ := mustDial(t, r.config())
	for _, seq := range []uint32{0xabcd1234, 7} {
		r.sendRUThere(seq)
		if !r.waitFor(2*time.Second, func(s rStats) bool { return len(s.dpdAck) > 0 && s.dpdAck[len(s.dpdAck)-1] == seq }) {
			t.Fatalf("no R-U-THERE-ACK %d: %v", seq, r.stats().dpdAck)
		}
	}
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestDPDDeadPeer(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "k").start()
	cfg := r.config()
	cfg.DPDInterval, cfg.DPDTimeout = 200*time.Millisecond, 600*time.Millisecond
	c, rd := mustDial(t, cfg)
	// An idle link with a live peer: R-U-THERE every 200 ms or so, each
	// answered, and the session lives past DPDTimeout.
	if !r.waitFor(3*time.Second, func(s rStats) bool { return len(s.dpdReq) >= 3 }) {
		t.Fatalf("R-U-THERE sent %d times", len(r.stats().dpdReq))
	}
	time.Sleep(300 * time.Millisecond)
	if err := c.Err(); err != nil {
		t.Fatalf("a peer answering DPD was declared dead: %v", err)
	}
	if s := r.stats(); s.dpdReq[0] != 1 || s.dpdReq[1] != 2 {
		t.Errorf("R-U-THERE sequence numbers %v", s.dpdReq)
	}
	r.mute.Store(true)
	start := time.Now()
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the session outlived a silent peer")
	}
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Errorf("declared dead after %v of silence", d)
	}
	if !errors.Is(c.Err(), ErrPeerDead) {
		t.Errorf("Err() = %v", c.Err())
	}
	if err := rd.wait(t, time.Second); !errors.Is(err, ErrPeerDead) {
		t.Errorf("ReadPacket: %v", err)
	}
	if err := writeL2TP(c, []byte("late"), true); err == nil {
		t.Error("WritePacket after the end succeeded")
	}
}

func TestPeerDeletes(t *testing.T) {
	for _, what := range []string{"ESP", "IKE"} {
		t.Run(what, func(t *testing.T) {
			r := newTestResponder(t, "k").start()
			c, rd := mustDial(t, r.config())
			echo(t, c, rd, []byte("hello"), true)
			// A Delete for an SPI that is not ours changes nothing.
			r.sendDeleteSPI(0x8badf00d)
			time.Sleep(100 * time.Millisecond)
			if err := c.Err(); err != nil {
				t.Fatalf("a Delete of another SPI ended the session: %v", err)
			}
			if what == "ESP" {
				r.sendDeleteESP()
			} else {
				r.sendDeleteIKE()
			}
			select {
			case <-c.Done():
			case <-time.After(2 * time.Second):
				t.Fatal("the session survived the server's Delete")
			}
			if !errors.Is(c.Err(), ErrPeerDeleted) || !strings.Contains(c.Err().Error(), what) {
				t.Errorf("Err() = %v", c.Err())
			}
			if err := rd.wait(t, time.Second); !errors.Is(err, ErrPeerDeleted) {
				t.Errorf("ReadPacket: %v", err)
			}
			// Close after the peer's Delete sends nothing more.
			n := len(r.stats().deletes)
			c.Close()
			time.Sleep(50 * time.Millisecond)
			if m := len(r.stats().deletes); m != n {
				t.Errorf("Close after the end sent %d Deletes", m-n)
			}
		})
	}
}

func TestClose(t *testing.T) {
	r := newTestResponder(t, "k").start()
	c, rd := mustDial(t, r.config())
	echo(t, c, rd, []byte("before close"), true)
	info := c.Info()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !r.waitFor(time.Second, func(s rStats) bool { return len(s.deletes) >= 2 }) {
		t.Fatalf("Deletes: %+v", r.stats().deletes)
	}
	d := r.stats().deletes
	if len(d) != 2 || d[0].proto != protoESP || binary.BigEndian.Uint32(d[0].spi) != info.InSPI {
		t.Errorf("first Delete %+v, want ESP %08x", d[0], info.InSPI)
	}
	if d[1].proto != protoISAKMP || !bytes.Equal(d[1].spi, r.ikeCookies()) {
		t.Errorf("second Delete %+v, want ISAKMP", d[1])
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !errors.Is(c.Err(), net.ErrClosed) {
		t.Errorf("Err() = %v", c.Err())
	}
	if err := rd.wait(t, time.Second); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadPacket after Close: %v", err)
	}
	if err := writeL2TP(c, []byte("after close"), true); err == nil {
		t.Error("WritePacket after Close succeeded")
	}
	select {
	case <-c.Done():
	default:
		t.Error("Done not closed")
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(r.stats().deletes); n != 2 {
		t.Errorf("%d Deletes after a second Close", n)
	}
}

// TestRekey renews the ESP SA pair twice under traffic: a payload every
// 20 ms, none may be lost.
func TestRekey(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "k").start()
	cfg := r.config()
	cfg.ESPLifetime = 2 * time.Second // rekey at 1.8 s
	cfg.DPDInterval = 400 * time.Millisecond
	var stages stageLog
	cfg.OnStage = stages.add
	c, rd := mustDial(t, cfg)

	var mu sync.Mutex
	got := map[string]bool{}
	collected := make(chan struct{})
	go func() {
		defer close(collected)
		for {
			select {
			case p := <-rd.pkts:
				mu.Lock()
				got[string(p)] = true
				mu.Unlock()
			case <-rd.done:
				return
			}
		}
	}()
	has := func(p []byte) bool { mu.Lock(); defer mu.Unlock(); return got[string(p)] }

	stop := make(chan struct{})
	sent := make(chan [][]byte, 1)
	go func() {
		var ps [][]byte
		defer func() { sent <- ps }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < 500; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			p := l2tpPayload(i, 200)
			if err := writeL2TP(c, p, true); err != nil {
				t.Errorf("WritePacket %d: %v", i, err)
				return
			}
			ps = append(ps, p)
		}
	}()
	deadline := time.Now().Add(6 * time.Second)
	for stages.count("ipsec: sa rekeyed") < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	close(stop)
	ps := <-sent
	if n := stages.count("ipsec: sa rekeyed"); n < 2 {
		t.Fatalf("%d rekeys in 6 s: %s", n, stages.String())
	}
	lost := 0
	for i, p := range ps {
		ok := false
		for w := 0; w < 100 && !ok; w++ { // up to 1 s for the last ones
			if ok = has(p); !ok {
				time.Sleep(10 * time.Millisecond)
			}
		}
		if !ok {
			lost++
			t.Errorf("payload %d of %d lost", i, len(ps))
		}
	}
	t.Logf("%d payloads through %d rekeys, %d lost", len(ps), stages.count("ipsec: sa rekeyed"), lost)
	s := r.stats()
	if s.qmDone < 3 || s.espUnknownSPI != 0 || s.espBad != 0 {
		t.Errorf("responder: %d Quick Modes, %d ESP for unknown SPIs, %d bad", s.qmDone, s.espUnknownSPI, s.espBad)
	}
	// The second rekey retired the first pair: its inbound SPI (the
	// responder's outbound) was deleted at the responder.
	_, first, _ := r.child(0)
	if !r.waitFor(time.Second, func(s rStats) bool {
		for _, d := range s.deletes {
			if d.proto == protoESP && binary.BigEndian.Uint32(d.spi) == first {
				return true
			}
		}
		return false
	}) {
		t.Errorf("no Delete for the first inbound SA %08x: %+v", first, r.stats().deletes)
	}
	// The retired SA is refused; the one the last rekey replaced is
	// still accepted for a while, the current one of course.
	in := c.in.Load()
	_, second, _ := r.child(1)
	_, third, _ := r.child(2)
	if in.prev == nil || in.prev.SPI() != second || in.cur.SPI() != third {
		t.Skipf("a third rekey came in between (inbound %08x, %v)", in.cur.SPI(), in.prev)
	}
	if info := c.Info(); info.InSPI != third || info.Lifetime != 2*time.Second {
		t.Errorf("Info after two rekeys: in %08x, want %08x; lifetime %v", info.InSPI, third, info.Lifetime)
	}
	for i, name := range []string{"retired", "previous", "current"} {
		if err := r.sendESP(i, []byte(name)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if has([]byte("retired")) || !has([]byte("previous")) || !has([]byte("current")) {
		t.Errorf("retired %v, previous %v, current %v", has([]byte("retired")), has([]byte("previous")), has([]byte("current")))
	}
}

func TestRekeyIKE(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "k").start()
	cfg := r.config()
	cfg.IKELifetime = 2 * time.Second
	cfg.DPDInterval = 400 * time.Millisecond
	var stages stageLog
	cfg.OnStage = stages.add
	c, rd := mustDial(t, cfg)
	old := r.ikeCookies()
	before := c.Info()
	deadline := time.Now().Add(4 * time.Second)
	for stages.count("ike: main mode rekeyed") < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if stages.count("ike: main mode rekeyed") < 1 {
		t.Fatalf("no IKE rekey: %s", stages.String())
	}
	// The new Main Mode ran on 4500 from the start; the old IKE SA was deleted.
	if !r.waitFor(time.Second, func(s rStats) bool {
		return len(s.deletes) == 1 && s.deletes[0].proto == protoISAKMP && bytes.Equal(s.deletes[0].spi, old)
	}) {
		t.Fatalf("Deletes %+v", r.stats().deletes)
	}
	s := r.stats()
	if s.mm1 != 2 || s.ikeOnIKE != 2 || s.mm5OnIKE != 0 {
		t.Errorf("MM1 %d times, %d IKE messages on the IKE port", s.mm1, s.ikeOnIKE)
	}
	if bytes.Equal(r.ikeCookies(), old) {
		t.Fatal("the responder has no new IKE SA")
	}
	// DPD runs on the new IKE SA; the ESP SA pair is unchanged.
	r.sendRUThere(99)
	if !r.waitFor(2*time.Second, func(s rStats) bool { return len(s.dpdAck) > 0 && s.dpdAck[len(s.dpdAck)-1] == 99 }) {
		t.Errorf("no R-U-THERE-ACK on the new IKE SA")
	}
	if after := c.Info(); after != before {
		t.Errorf("Info changed with the IKE rekey: %+v, then %+v", before, after)
	}
	echo(t, c, rd, []byte("after the IKE rekey"), true)
	if err := c.Err(); err != nil {
		t.Error(err)
	}
}

// TestRekeyFailureExpires: when every rekey fails, the ESP SA must be
// declared expired once its lifetime has run out.
func TestRekeyFailureExpires(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "k").start()
	r.ignoreQM.Store(true)
	cfg := r.config()
	cfg.ESPLifetime = 2 * time.Second
	cfg.Retransmit = []time.Duration{20 * time.Millisecond}
	cfg.DPDInterval = 400 * time.Millisecond
	c, rd := mustDial(t, cfg)
	select {
	case <-c.Done():
	case <-time.After(3200 * time.Millisecond):
	}
	s := r.stats()
	if s.qmIgnored < 1 {
		t.Fatalf("%d rekey attempts", s.qmIgnored)
	}
	if c.Err() == nil {
		t.Fatalf("bug: ESP SA (lifetime 2 s) still in use after 3.2 s and %d failed rekeys: routine.go measures expiry from "+
			"c.child.born, which rekeyChild pushes forward on each failure", s.qmIgnored)
	}
	if !strings.Contains(c.Err().Error(), "expired") {
		t.Errorf("Err() = %v", c.Err())
	}
	if err := rd.wait(t, time.Second); err == nil {
		t.Error("ReadPacket went on")
	}
}

func TestProbe(t *testing.T) {
	r := newTestResponder(t, "k")
	r.ikeAccept = mustIKE(t, "aes256-sha256-modp2048,3des-sha1-modp1024")
	r.start()
	res, err := probe(context.Background(), netip.AddrPortFrom(loopback, r.ikePort), ProbeFamilies, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res {
		accepted := p.Family.Name == "aes256-sha256-modp2048" || p.Family.Name == "3des-sha1-modp1024"
		if p.Accepted != accepted || (!accepted && p.Refused != NotifyNoProposalChosen) {
			t.Errorf("%s: accepted %v refused %v", p.Family.Name, p.Accepted, p.Refused)
		}
		if accepted && (p.NATT != "RFC 3947" || !p.DPD) {
			t.Errorf("%s: NAT-T %q DPD %v", p.Family.Name, p.NATT, p.DPD)
		}
	}
	if s := r.stats(); s.mm1 != len(ProbeFamilies) {
		t.Errorf("%d MM1 for %d families", s.mm1, len(ProbeFamilies))
	}
}

// TestForeignDatagrams: junk, keepalives and ESP from the wrong port are
// dropped and change nothing.
func TestForeignDatagrams(t *testing.T) {
	r := newTestResponder(t, "k").start()
	c, rd := mustDial(t, r.config())
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	to := net.UDPAddrFromAddrPort(c.local)
	before := rd.dropped.Load()
	other.WriteToUDP(make([]byte, 100), to) // marker + junk: IKE to the IKE goroutine, ignored
	junk := make([]byte, 100)
	binary.BigEndian.PutUint32(junk, c.in.Load().cur.SPI())
	other.WriteToUDP(junk, to)                           // "ESP" from the wrong port
	r.nattConn.WriteToUDPAddrPort(junk, c.local)         // bad ESP from the right port
	r.nattConn.WriteToUDPAddrPort([]byte{0xff}, c.local) // a keepalive
	deadline := time.Now().Add(time.Second)
	for rd.dropped.Load() < before+4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := rd.dropped.Load() - before; n != 4 {
		t.Errorf("%d datagrams dropped, want 4", n)
	}
	echo(t, c, rd, []byte("still fine"), true)
	if c.Err() != nil {
		t.Error(c.Err())
	}
}

// slowQM3 is a log handler that takes its time over the "QM3 sent" line:
// it widens the moment between sending QM3 and installing the new SAs.
type slowQM3 struct{}

func (slowQM3) Enabled(context.Context, slog.Level) bool { return true }
func (h slowQM3) WithAttrs([]slog.Attr) slog.Handler     { return h }
func (h slowQM3) WithGroup(string) slog.Handler          { return h }
func (slowQM3) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "msg" && a.Value.String() == "QM3" {
			time.Sleep(50 * time.Millisecond)
			return false
		}
		return true
	})
	return nil
}

// TestFirstPacketAfterQM3: the responder may use a new SA pair as soon
// as QM3 is in (RFC 2409 5.5); its first packet must not be dropped.
func TestFirstPacketAfterQM3(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "k")
	r.espAfterQM3 = true
	r.start()
	cfg := r.config()
	cfg.ESPLifetime = time.Second // rekey at 0.9 s
	cfg.DPDInterval = 400 * time.Millisecond
	cfg.Logger = slog.New(slowQM3{})
	var stages stageLog
	cfg.OnStage = stages.add
	_, rd := mustDial(t, cfg)
	got := map[string]bool{}
	end := time.Now().Add(3 * time.Second)
	rekeyed := false
	for time.Now().Before(end) && !(rekeyed && len(got) >= 2) {
		if !rekeyed && stages.count("ipsec: sa rekeyed") >= 1 {
			rekeyed = true
			end = time.Now().Add(300 * time.Millisecond)
		}
		select {
		case p := <-rd.pkts:
			got[string(p)] = true
		case <-time.After(20 * time.Millisecond):
		}
	}
	if stages.count("ipsec: sa rekeyed") < 1 {
		t.Fatalf("no rekey: %s", stages.String())
	}
	_, first, _ := r.child(0)
	_, second, _ := r.child(1)
	if !got[fmt.Sprintf("first packet of SA %08x", first)] {
		t.Errorf("the first packet of the SA of Dial was lost")
	}
	if !got[fmt.Sprintf("first packet of SA %08x", second)] {
		t.Fatal("bug: the first packet the responder sent with the rekeyed SA was dropped: quickMode (conn.go) sends QM3 " +
			"before the new inbound SA exists; derive and install the inbound SA before sending QM3")
	}
}

// TestInformationalDuringQuickMode: an R-U-THERE arriving while Quick
// Mode waits for QM2 is answered once.
func TestInformationalDuringQuickMode(t *testing.T) {
	r := newTestResponder(t, "k")
	r.dpdInQM = true
	r.start()
	mustDial(t, r.config())
	count := func(s rStats) int {
		n := 0
		for _, a := range s.dpdAck {
			if a == 4242 {
				n++
			}
		}
		return n
	}
	if !r.waitFor(2*time.Second, func(s rStats) bool { return count(s) >= 1 }) {
		t.Fatal("R-U-THERE during Quick Mode not answered")
	}
	time.Sleep(100 * time.Millisecond)
	if n := count(r.stats()); n != 1 {
		t.Fatalf("bug: R-U-THERE during Quick Mode answered %d times: quickMode's accept (conn.go) calls c.informational "+
			"and returns false, and roundTrip then hands the same message to c.unsolicited, which processes it again", n)
	}
}

// A server that sends its Diffie-Hellman public value without its leading
// zero byte (SoftEther: seen in CI as "peer's public value has 255 bytes,
// want 256", one connect in 256) is understood: Main Mode completes, the
// hashes agree, and ESP carries data.
func TestShortPublicValue(t *testing.T) {
	r := newTestResponder(t, "k")
	// One public value in 256 starts with a zero byte: draw one first.
	g := DefaultIKE[0].Group // what the default offer gets chosen
	if offer := r.config().IKE; len(offer) > 0 {
		g = offer[0].Group
	}
	for i := 0; r.shortKE == nil && i < 5000; i++ {
		k, err := newDH(g, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if k.pub[0] == 0 {
			r.shortKE = k
		}
	}
	if r.shortKE == nil {
		t.Fatal("no public value with a leading zero byte in 5000 draws")
	}
	r.start()
	c, rd := mustDial(t, r.config())
	for i := 0; i < 3; i++ {
		echo(t, c, rd, l2tpPayload(i, 100), true)
	}
}
