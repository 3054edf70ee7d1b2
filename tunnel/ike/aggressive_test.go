package ike

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel"
	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/l2tp/l2tptest"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

// aggressiveConfig is r's config for Aggressive Mode with group name g.
func aggressiveConfig(r *testResponder, g string, typ uint8) Config {
	cfg := r.config()
	cfg.Aggressive, cfg.GroupID, cfg.GroupIDType = true, g, typ
	return cfg
}

func TestAggressiveDialAndEcho(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(r *testResponder, cfg *Config)
		wantIKE  string
		wantNATT string
		wantNAT  bool
		wantAM1  int
	}{
		{name: "FQDN group name", wantIKE: "aes256-sha256-modp2048"},
		{name: "KEY_ID group name", setup: func(r *testResponder, cfg *Config) {
			cfg.GroupIDType = IDKeyID
			r.amGroupType = IDKeyID
		}, wantIKE: "aes256-sha256-modp2048"},
		{name: "the first group only, every suite of it", setup: func(r *testResponder, cfg *Config) {
			cfg.IKE = mustIKE(t, "aes256-sha256-modp2048,aes128-sha1-modp1024,aes128-sha1-modp2048")
			r.ikeAccept = mustIKE(t, "aes128-sha1-modp1024,aes128-sha1-modp2048")
		}, wantIKE: "aes128-sha1-modp2048"},
		{name: "legacy 3des-sha1-modp1024", setup: func(r *testResponder, cfg *Config) {
			cfg.IKE = mustIKE(t, "3des-sha1-modp1024")
		}, wantIKE: "3des-sha1-modp1024"},
		{name: "draft NAT-T", setup: func(r *testResponder, cfg *Config) { r.draftNATT = true },
			wantIKE: "aes256-sha256-modp2048", wantNATT: "draft"},
		{name: "NAT in front of the client", setup: func(r *testResponder, cfg *Config) { r.fakeNAT = true },
			wantIKE: "aes256-sha256-modp2048", wantNAT: true},
		{name: "true NAT-D hash", setup: func(r *testResponder, cfg *Config) { cfg.NoForceEncaps = true },
			wantIKE: "aes256-sha256-modp2048"},
		{name: "an FQDN IDir", setup: func(r *testResponder, cfg *Config) {
			r.amIDr = ID{Type: IDFQDN, Data: []byte("vpn.example.com")}.Append(nil)
		}, wantIKE: "aes256-sha256-modp2048"},
		{name: "AM2 twice", setup: func(r *testResponder, cfg *Config) { r.dupMM2 = true },
			wantIKE: "aes256-sha256-modp2048"},
		{name: "AM3 lost: AM2 repeated and answered", setup: func(r *testResponder, cfg *Config) { r.amDropAM3 = true },
			wantIKE: "aes256-sha256-modp2048"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newTestResponder(t, "group secret")
			r.amGroup = "vpn-users"
			cfg := aggressiveConfig(r, "vpn-users", 0)
			var stages stageLog
			cfg.OnStage = stages.add
			if tc.setup != nil {
				tc.setup(r, &cfg)
			}
			r.start()
			c, rd := mustDial(t, cfg)
			defer c.Close()
			info := c.Info()
			if info.IKE.Notation() != tc.wantIKE || info.ESP.Notation() != "aes128gcm16" {
				t.Errorf("negotiated %s / %s, want %s / aes128gcm16", info.IKE.Notation(), info.ESP.Notation(), tc.wantIKE)
			}
			wantNATT := tc.wantNATT
			if wantNATT == "" {
				wantNATT = "RFC 3947"
			}
			if info.NATT != wantNATT || info.NAT != tc.wantNAT {
				t.Errorf("NAT-T %q NAT %v, want %q %v", info.NATT, info.NAT, wantNATT, tc.wantNAT)
			}
			if stages.count("ike: aggressive mode established") != 1 || stages.count("ipsec: sa established") != 1 {
				t.Errorf("stages: %s", stages.String())
			}
			for i := 0; i < 20; i++ {
				echo(t, c, rd, l2tpPayload(i, 12+(i*137)%1400), i%3 != 0)
			}
			s := r.stats()
			wantType := uint8(IDFQDN)
			if cfg.GroupIDType == IDKeyID {
				wantType = IDKeyID
			}
			if s.amIDi.Type != wantType || string(s.amIDi.Data) != "vpn-users" || s.amIDi.Port != 0 || s.amIDi.Protocol != 0 {
				t.Errorf("the responder saw IDii %+v", s.amIDi)
			}
			if s.mm1 != 0 || s.am1 < 1 || s.am3OnIKE != 0 || s.am3Clear || s.badHash != 0 {
				t.Errorf("MM1 %d, AM1 %d, AM3 %d (%d on 500, clear %v), bad hashes %d", s.mm1, s.am1, s.am3, s.am3OnIKE, s.am3Clear, s.badHash)
			}
			if !s.natdServerOK || s.natSeen != !cfg.NoForceEncaps || !s.initialContact {
				t.Errorf("NAT-D: server hash ok %v, NAT seen at the client %v; INITIAL-CONTACT %v", s.natdServerOK, s.natSeen, s.initialContact)
			}
			if s.qmDone != 1 || s.espEchoed != 20 {
				t.Errorf("Quick Modes %d, echoed %d", s.qmDone, s.espEchoed)
			}
			if tc.name == "AM3 lost: AM2 repeated and answered" && (s.am3Dropped != 1 || s.am3 != 2) {
				t.Errorf("AM3 %d times, %d dropped", s.am3, s.am3Dropped)
			}
			if err := c.Err(); err != nil {
				t.Errorf("Err() = %v", err)
			}
		})
	}
}

func TestAggressiveFailures(t *testing.T) {
	cases := []struct {
		name  string
		setup func(r *testResponder, cfg *Config)
		check func(t *testing.T, err error, s rStats)
	}{
		{"wrong pre-shared key: HASH_R does not verify", func(r *testResponder, cfg *Config) { r.wrongPSK = true },
			func(t *testing.T, err error, s rStats) {
				if !errors.Is(err, ErrPeerAuth) || !strings.Contains(err.Error(), "aggressive mode msg 2") {
					t.Errorf("err = %v, want ErrPeerAuth", err)
				}
				if s.am3 != 0 || s.qm1 != 0 {
					t.Errorf("AM3 %d, QM1 %d after a HASH_R that does not verify", s.am3, s.qm1)
				}
			}},
		{"IDir other than the one HASH_R covers", func(r *testResponder, cfg *Config) { r.amBadIDr = true },
			func(t *testing.T, err error, s rStats) {
				if !errors.Is(err, ErrPeerAuth) || s.am3 != 0 {
					t.Errorf("err = %v, AM3 %d, want ErrPeerAuth", err, s.am3)
				}
			}},
		{"malformed IDir", func(r *testResponder, cfg *Config) { r.amIDr = []byte{IDIPv4Addr, 0} },
			func(t *testing.T, err error, s rStats) {
				if !errors.Is(err, ErrPayload) || !strings.Contains(err.Error(), "aggressive mode msg 2") || s.am3 != 0 {
					t.Errorf("err = %v, AM3 %d, want a malformed payload in msg 2", err, s.am3)
				}
			}},
		{"unknown group name", func(r *testResponder, cfg *Config) { cfg.GroupID = "other-group" },
			func(t *testing.T, err error, s rStats) {
				var ne *NotifyError
				if !errors.Is(err, ErrAggressiveRefused) || !errors.As(err, &ne) || ne.Type != NotifyAuthenticationFailed {
					t.Errorf("err = %v, want ErrAggressiveRefused with AUTHENTICATION-FAILED", err)
				}
				if !strings.Contains(err.Error(), `"other-group"`) || s.amIDi.Type != IDFQDN {
					t.Errorf("err = %v; IDii %+v", err, s.amIDi)
				}
			}},
		{"group name of the wrong type", func(r *testResponder, cfg *Config) { r.amGroupType = IDKeyID },
			func(t *testing.T, err error, s rStats) {
				if !errors.Is(err, ErrAggressiveRefused) || !strings.Contains(err.Error(), "fqdn") {
					t.Errorf("err = %v, want ErrAggressiveRefused naming fqdn", err)
				}
			}},
		{"silent server", func(r *testResponder, cfg *Config) { r.silent = true },
			func(t *testing.T, err error, s rStats) {
				if !errors.Is(err, ErrNoAnswer) || s.am1 != 3 || !strings.Contains(err.Error(), "aggressive mode message 1") {
					t.Errorf("err = %v after %d AM1", err, s.am1)
				}
			}},
		{"no proposal chosen", func(r *testResponder, cfg *Config) { r.ikeAccept = mustIKE(t, "aes128-sha1-modp1024") },
			func(t *testing.T, err error, s rStats) {
				var ne *NotifyError
				if !errors.As(err, &ne) || ne.Type != NotifyNoProposalChosen || errors.Is(err, ErrAggressiveRefused) {
					t.Errorf("err = %v, want NO-PROPOSAL-CHOSEN", err)
				}
			}},
		{"no NAT-T", func(r *testResponder, cfg *Config) { r.noNATT = true },
			func(t *testing.T, err error, s rStats) {
				if !errors.Is(err, ErrNoNATT) {
					t.Errorf("err = %v, want ErrNoNATT", err)
				}
			}},
		{"a forged notification before AM2 is ignored", func(r *testResponder, cfg *Config) { r.forgeMM2Notify = NotifyAuthenticationFailed },
			func(t *testing.T, err error, s rStats) {
				if err != nil || s.am3 != 1 {
					t.Errorf("err = %v, AM3 %d", err, s.am3)
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newTestResponder(t, "group secret")
			r.amGroup = "vpn-users"
			cfg := aggressiveConfig(r, "vpn-users", 0)
			tc.setup(r, &cfg)
			r.start()
			c, err := dialTest(cfg)
			if c != nil {
				defer c.Close()
			}
			tc.check(t, err, r.stats())
			if err != nil && bytes.Contains([]byte(err.Error()), []byte("group secret")) {
				t.Errorf("the error shows the pre-shared key: %v", err)
			}
		})
	}
}

func TestAggressiveArguments(t *testing.T) {
	r := newTestResponder(t, "k").start()
	for _, cfg := range []Config{aggressiveConfig(r, "", 0), aggressiveConfig(r, "g", 7), aggressiveConfig(r, strings.Repeat("g", 256), 0)} {
		if _, err := dialTest(cfg); err == nil {
			t.Errorf("Dial with group %q type %d: no error", cfg.GroupID, cfg.GroupIDType)
		}
	}
	if s := r.stats(); s.am1 != 0 {
		t.Errorf("%d AM1 sent for bad arguments", s.am1)
	}
	for _, tc := range []struct {
		in   string
		want uint8
	}{{"", IDFQDN}, {"fqdn", IDFQDN}, {"KEYID", IDKeyID}, {"key_id", IDKeyID}} {
		if got, err := ParseGroupIDType(tc.in); err != nil || got != tc.want {
			t.Errorf("ParseGroupIDType(%q) = %d, %v", tc.in, got, err)
		}
	}
	if _, err := ParseGroupIDType("dn"); err == nil {
		t.Error("ParseGroupIDType(dn): no error")
	}
}

// TestAggressiveRekeyIKE: the IKE SA is renewed with Aggressive Mode too,
// on port 4500 from the start.
func TestAggressiveRekeyIKE(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "k")
	r.amGroup = "g"
	r.start()
	cfg := aggressiveConfig(r, "g", 0)
	cfg.IKELifetime = 2 * time.Second
	cfg.DPDInterval = 400 * time.Millisecond
	var stages stageLog
	cfg.OnStage = stages.add
	c, rd := mustDial(t, cfg)
	defer c.Close()
	old := r.ikeCookies()
	deadline := time.Now().Add(4 * time.Second)
	for stages.count("ike: aggressive mode rekeyed") < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if stages.count("ike: aggressive mode rekeyed") < 1 {
		t.Fatalf("no IKE rekey: %s", stages.String())
	}
	if !r.waitFor(time.Second, func(s rStats) bool {
		return len(s.deletes) == 1 && s.deletes[0].proto == protoISAKMP && bytes.Equal(s.deletes[0].spi, old)
	}) {
		t.Fatalf("Deletes %+v", r.stats().deletes)
	}
	if s := r.stats(); s.am1 != 2 || s.mm1 != 0 || s.ikeOnIKE != 1 {
		t.Errorf("AM1 %d, MM1 %d, %d IKE messages on the IKE port", s.am1, s.mm1, s.ikeOnIKE)
	}
	r.sendRUThere(99)
	if !r.waitFor(2*time.Second, func(s rStats) bool { return len(s.dpdAck) > 0 && s.dpdAck[len(s.dpdAck)-1] == 99 }) {
		t.Errorf("no R-U-THERE-ACK on the new IKE SA")
	}
	echo(t, c, rd, []byte("after the IKE rekey"), true)
}

// TestAggressiveFullStack: L2TP and PPP (MS-CHAPv2, IPCP) over ESP after
// Aggressive Mode, against the test responder with an L2TP server behind
// it.
func TestAggressiveFullStack(t *testing.T) {
	r := newTestResponder(t, "group secret")
	r.amGroup, r.amGroupType = "vpn-users", IDKeyID
	srv := l2tptest.NewServer(l2tptest.Config{User: "alice", Password: "correct horse", RestartInterval: 300 * time.Millisecond,
		DNS: []netip.Addr{netip.MustParseAddr("192.0.2.53")}})
	defer srv.Close()
	r.attachLNS(t, srv.Transport())
	r.start()
	c, err := dialTest(aggressiveConfig(r, "vpn-users", IDKeyID))
	if err != nil {
		t.Fatal(err)
	}
	tun := tunnel.Start(context.Background(), c, tunnel.Config{
		L2TP: l2tp.Config{Reliable: l2tp.ReliableConfig{InitialTimeout: 500 * time.Millisecond, AckDelay: 5 * time.Millisecond}},
		PPP: ppp.Config{User: "alice", Password: "correct horse", RestartInterval: 100 * time.Millisecond,
			MaxRestartInterval: 400 * time.Millisecond, EchoInterval: -1},
	})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		tun.Close(ctx)
		c.Close()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := tun.WaitUp(ctx)
	if err != nil {
		t.Fatalf("WaitUp: %v (server events %v)", err, srv.Events())
	}
	if info.Local != netip.MustParseAddr("10.99.0.2") || len(info.DNS) != 1 {
		t.Errorf("IPCP: %+v", info)
	}
	if s := r.stats(); s.am3 != 1 || s.mm1 != 0 || s.qmDone != 1 || s.espOnNATT == 0 {
		t.Errorf("AM3 %d, MM1 %d, Quick Modes %d, ESP %d", s.am3, s.mm1, s.qmDone, s.espOnNATT)
	}
}
