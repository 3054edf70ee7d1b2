package ike

import (
	"slices"
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
