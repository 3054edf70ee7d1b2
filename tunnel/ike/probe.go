package ike

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ProbeFamily is one phase-1 proposal tried by Probe. Its values may
// name algorithms the initiator never negotiates (DES, ECP, GCM): a probe
// only asks whether the server would.
type ProbeFamily struct {
	Name   string // strongSwan notation
	Enc    uint16 // RFC 2409 appendix A encryption algorithm
	KeyLen uint16 // bits; 0: no Key Length attribute
	Hash   uint16
	Group  uint16
}

// ProbeFamilies are the families `corridor probe` tries, strongest first:
// what today's servers offer, the legacy suites old servers still need,
// and ECP and GCM groups that IKEv1 servers often lack.
var ProbeFamilies = []ProbeFamily{
	{"aes256-sha256-modp2048", 7, 256, 4, 14},
	{"aes128-sha256-modp2048", 7, 128, 4, 14},
	{"aes256-sha1-modp2048", 7, 256, 2, 14},
	{"aes128-sha1-modp2048", 7, 128, 2, 14},
	{"aes256-sha512-modp4096", 7, 256, 6, 16},
	{"aes256-sha384-modp3072", 7, 256, 5, 15},
	{"aes256-sha1-modp1536", 7, 256, 2, 5},
	{"aes128-sha1-modp1024", 7, 128, 2, 2},
	{"3des-sha1-modp1024", 5, 0, 2, 2},
	{"3des-md5-modp1024", 5, 0, 1, 2},
	{"des-md5-modp768", 1, 0, 1, 1},
	{"aes128-sha256-ecp256", 7, 128, 4, 19},
	{"aes256-sha384-ecp384", 7, 256, 5, 20},
	{"aes128gcm16-sha256-modp2048", 20, 128, 4, 14},
	{"aes256gcm16-sha384-ecp384", 20, 256, 5, 20},
}

// ProbeResult is the server's answer to one family.
type ProbeResult struct {
	Family   ProbeFamily
	Accepted bool       // it answered Main Mode message 1 with this proposal
	Refused  NotifyType // it answered with an error notification
	NATT     string     // NAT-T flavour it announced ("RFC 3947", "draft", "")
	DPD      bool
}

// Probe sends one Main Mode message 1 per family, all at once, each with
// its own cookie, to server's UDP port 500 and collects the answers for
// wait (unanswered messages are sent once more halfway). It never gets
// past message 2, so no credentials are needed; the server forgets the
// half-open exchanges by itself.
func Probe(ctx context.Context, server netip.Addr, families []ProbeFamily, wait time.Duration) ([]ProbeResult, error) {
	return probe(ctx, netip.AddrPortFrom(server, portIKE), families, wait)
}

func probe(ctx context.Context, server netip.AddrPort, families []ProbeFamily, wait time.Duration) ([]ProbeResult, error) {
	u, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		return nil, fmt.Errorf("ike: probe: %w", err)
	}
	defer u.Close()
	res := make([]ProbeResult, len(families))
	msgs := make([][]byte, len(families))
	byCookie := map[[8]byte]int{}
	for i, f := range families {
		res[i].Family = f
		var ck [8]byte
		if _, err := rand.Read(ck[:]); err != nil {
			return nil, err
		}
		byCookie[ck] = i
		t := Transform{Num: 1, ID: transformKeyIKE, Attrs: []Attr{{Type: p1AttrEnc, Value: uint64(f.Enc)}}}
		if f.KeyLen != 0 {
			t.Attrs = append(t.Attrs, Attr{Type: p1AttrKeyLen, Value: uint64(f.KeyLen)})
		}
		t.Attrs = append(t.Attrs, Attr{Type: p1AttrHash, Value: uint64(f.Hash)}, Attr{Type: p1AttrAuth, Value: authPSK},
			Attr{Type: p1AttrGroup, Value: uint64(f.Group)}, Attr{Type: p1AttrLifeType, Value: lifeSeconds},
			Attr{Type: p1AttrLifeDur, Value: 28800})
		sa := &SA{Proposals: []Proposal{{Num: 1, Protocol: protoISAKMP, Transforms: []Transform{t}}}}
		msgs[i] = (&Message{ICookie: ck, Exchange: ExchangeMain, Payloads: []Payload{
			{PayloadSA, sa.Append(nil)}, {PayloadVendorID, vidRFC3947}, {PayloadVendorID, vidDraft03},
			{PayloadVendorID, vidDraft02n}, {PayloadVendorID, vidDPD},
		}}).Marshal()
	}
	sendPending := func() {
		for i, m := range msgs {
			if !res[i].Accepted && res[i].Refused == 0 {
				u.Write(m)
			}
		}
	}
	sendPending()
	start := time.Now()
	resent := false
	buf := make([]byte, 65536)
	answered := 0
	for answered < len(families) {
		if err := ctx.Err(); err != nil {
			return nil, context.Cause(ctx)
		}
		now := time.Now()
		if now.Sub(start) >= wait {
			break
		}
		if !resent && now.Sub(start) >= wait/2 {
			sendPending()
			resent = true
		}
		u.SetReadDeadline(now.Add(min(50*time.Millisecond, wait/4)))
		n, err := u.Read(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if isRefused(err) {
				continue // ICMP port unreachable: keep listening for the rest
			}
			return nil, fmt.Errorf("ike: probe: %w", err)
		}
		m, err := ParseClear(buf[:n])
		if err != nil {
			continue
		}
		i, ok := byCookie[m.ICookie]
		if !ok || res[i].Accepted || res[i].Refused != 0 {
			continue
		}
		switch m.Exchange {
		case ExchangeMain:
			if _, ok := m.Find(PayloadSA); !ok {
				continue
			}
			res[i].Accepted = true
			switch {
			case hasVID(m, vidRFC3947):
				res[i].NATT = "RFC 3947"
			case hasVID(m, vidDraft02n), hasVID(m, vidDraft03), hasVID(m, vidDraft02):
				res[i].NATT = "draft"
			}
			res[i].DPD = hasVID(m, vidDPD)
		case ExchangeInformational:
			n, ok := errorNotify(m.Payloads)
			if !ok {
				continue
			}
			res[i].Refused = n.Type
		default:
			continue
		}
		answered++
	}
	return res, nil
}
