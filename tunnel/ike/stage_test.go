package ike

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"slices"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

func TestStageString(t *testing.T) {
	aes := IKESuite{Cipher: CipherAESCBC, KeyLen: 32, Hash: HashSHA256, Group: MODP2048}
	gcm := ESPSuite{Suite: esp.AESGCM16, KeyLen: 16}
	for _, c := range []struct {
		s    Stage
		want string
	}{
		{Stage{Kind: StagePhase1, IKE: aes, NATT: "RFC 3947"},
			"ike: main mode established (AES-CBC-256/SHA2-256/MODP2048, NAT-T RFC 3947, no NAT found, UDP encapsulation forced)"},
		{Stage{Kind: StagePhase1, IKE: aes, NATT: "draft", NAT: true},
			"ike: main mode established (AES-CBC-256/SHA2-256/MODP2048, NAT-T draft, NAT detected)"},
		{Stage{Kind: StagePhase2, ESP: gcm, Port: 4500}, "ipsec: sa established (ESP " + gcm.String() + ", udp-encap 4500)"},
		{Stage{Kind: StageRekeyESP, ESP: gcm, InSPI: 0x81020304, OutSPI: 0xc0000001},
			"ipsec: sa rekeyed (ESP " + gcm.String() + ", spi in 81020304 out c0000001)"},
		{Stage{Kind: StageRekeyIKE, IKE: aes}, "ike: main mode rekeyed (AES-CBC-256/SHA2-256/MODP2048)"},
		{Stage{Kind: StagePhase1, IKE: aes, NATT: "RFC 3947", NAT: true, Cert: "CN=laptop-42"},
			"ike: main mode established (AES-CBC-256/SHA2-256/MODP2048, NAT-T RFC 3947, NAT detected, certificate CN=laptop-42)"},
	} {
		if got := c.s.String(); got != c.want {
			t.Errorf("%v: %q, want %q", c.s.Kind, got, c.want)
		}
	}
	for k, want := range map[StageKind]string{StagePhase1: "phase 1", StagePhase2: "phase 2",
		StageRekeyESP: "ESP rekey", StageRekeyIKE: "IKE rekey", 0: "stage-0"} {
		if k.String() != want {
			t.Errorf("%d: %q", k, k.String())
		}
	}
}

// TestStageKinds: Dial reports phase 1, then phase 2.
func TestStageKinds(t *testing.T) {
	r := newTestResponder(t, "k").start()
	cfg := r.config()
	var stages stageLog
	cfg.OnStage = stages.add
	mustDial(t, cfg)
	stages.mu.Lock()
	defer stages.mu.Unlock()
	if !slices.Equal(stages.kinds, []StageKind{StagePhase1, StagePhase2}) {
		t.Errorf("stages %v: %q", stages.kinds, stages.s)
	}
}

// certName names a certificate by its CN (else its subject), printable
// and at most 64 characters: it goes into a progress line.
func TestCertName(t *testing.T) {
	long := strings.Repeat("a", 80)
	for _, c := range []struct {
		subj pkix.Name
		want string
	}{
		{pkix.Name{CommonName: "laptop-42.example.org", Organization: []string{"Example"}}, "CN=laptop-42.example.org"},
		{pkix.Name{Organization: []string{"Example"}}, "O=Example"},
		{pkix.Name{CommonName: "bad\x1b[31mname\n"}, "CN=bad[31mname"},
		{pkix.Name{CommonName: long}, "CN=" + long[:60] + "…"},
		{pkix.Name{}, "(no subject)"},
	} {
		if got := certName(&x509.Certificate{Subject: c.subj}); got != c.want {
			t.Errorf("%v: %q, want %q", c.subj, got, c.want)
		}
	}
	if certName(nil) != "" {
		t.Error("nil certificate named")
	}
}

// TestStageCertDial: with a certificate, the phase-1 line names it (its
// CN); with the pre-shared key it names none.
func TestStageCertDial(t *testing.T) {
	r, cfg := certSetup(t, newTestPKI(t))
	r.start()
	var stages stageLog
	cfg.OnStage = stages.add
	mustDial(t, cfg)
	want := "ike: main mode established ("
	cn := ", certificate CN=" + cfg.Cert[0].Subject.CommonName + ")"
	if cfg.Cert[0].Subject.CommonName == "" || stages.count(want) != 1 || stages.count(cn) != 1 {
		t.Errorf("certificate: stages %q, want one with %q", stages.String(), cn)
	}

	r2 := newTestResponder(t, "k").start()
	cfg2 := r2.config()
	var psk stageLog
	cfg2.OnStage = psk.add
	mustDial(t, cfg2)
	if psk.count(want) != 1 || psk.count("certificate") != 0 {
		t.Errorf("pre-shared key: stages %q", psk.String())
	}
}
