package ike

import (
	"crypto/x509"
	"fmt"
	"strings"
	"unicode"
)

// StageKind is a step of an IKE session's progress.
type StageKind uint8

// The steps OnStage reports.
const (
	StagePhase1   StageKind = iota + 1 // Main Mode done: the IKE SA is up
	StagePhase2                        // Quick Mode done: ESP carries L2TP
	StageRekeyESP                      // a new ESP SA pair replaced the old one
	StageRekeyIKE                      // a new Main Mode replaced the IKE SA
)

func (k StageKind) String() string {
	switch k {
	case StagePhase1:
		return "phase 1"
	case StagePhase2:
		return "phase 2"
	case StageRekeyESP:
		return "ESP rekey"
	case StageRekeyIKE:
		return "IKE rekey"
	}
	return fmt.Sprintf("stage-%d", uint8(k))
}

// Stage is one step of progress, with what was negotiated in it.
type Stage struct {
	Kind StageKind
	IKE  IKESuite // StagePhase1, StageRekeyIKE
	NATT string   // StagePhase1: "RFC 3947" or "draft"
	NAT  bool     // StagePhase1: a NAT was detected (besides our forced one)
	ESP  ESPSuite // StagePhase2, StageRekeyESP
	Port uint16   // StagePhase2: the server's UDP port for ESP
	// StageRekeyESP: the SPIs of the new pair.
	InSPI, OutSPI uint32
	// StagePhase1, StageRekeyIKE: Aggressive Mode, not Main Mode.
	Aggressive bool
	// StagePhase1: the subject of our certificate ("CN=laptop-42") when
	// Main Mode authenticated with RSA signatures (RFC 2409 §5.1); ""
	// with the pre-shared key. Public: it went to the server in CERT.
	Cert string
}

// String is the progress line in plain words.
func (s Stage) String() string {
	switch s.Kind {
	case StagePhase1:
		nat := "no NAT found, UDP encapsulation forced"
		if s.NAT {
			nat = "NAT detected"
		}
		auth := ""
		if s.Cert != "" {
			auth = ", certificate " + s.Cert
		}
		return fmt.Sprintf("ike: %s established (%v, NAT-T %v, %s%s)", s.mode(), s.IKE, s.NATT, nat, auth)
	case StagePhase2:
		return fmt.Sprintf("ipsec: sa established (ESP %v, udp-encap %d)", s.ESP, s.Port)
	case StageRekeyESP:
		return fmt.Sprintf("ipsec: sa rekeyed (ESP %v, spi in %08x out %08x)", s.ESP, s.InSPI, s.OutSPI)
	case StageRekeyIKE:
		return fmt.Sprintf("ike: %s rekeyed (%v)", s.mode(), s.IKE)
	}
	return "ike: " + s.Kind.String()
}

// certName is how a progress line names a certificate: CN=its common
// name (else its whole subject), printable characters only, at most 64.
func certName(c *x509.Certificate) string {
	if c == nil {
		return ""
	}
	name := "CN=" + c.Subject.CommonName
	if c.Subject.CommonName == "" {
		name = c.Subject.String()
	}
	name = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, name)
	if r := []rune(name); len(r) > 64 {
		name = string(r[:63]) + "…"
	}
	if name == "" {
		name = "(no subject)"
	}
	return name
}

func (s Stage) mode() string {
	if s.Aggressive {
		return "aggressive mode"
	}
	return "main mode"
}
