package ppp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"testing"
	"time"
)

// v6Server scripts the fake server's IPV6CP (RFC 5072). It answers the
// link's first Configure-Request with its own, so that a collision can
// copy the link's identifier.
type v6Server struct {
	iid       uint64 // the server's own Interface-Identifier (may be 0)
	nakWith   uint64 // Nak the link's first request, suggesting this (with nak set)
	nak       bool
	rejIID    bool // Configure-Reject the Interface-Identifier
	protoRej  bool // Protocol-Reject IPV6CP altogether
	collide   bool // the server's request carries the link's identifier
	compress  bool // the server's request also asks for header compression
	lose      int  // drop this many of the link's Configure-Requests
	ignoreNak bool // keep requesting iid whatever the link suggests

	naked  bool
	reqID  byte
	req    []byte
	gotAck bool
	reqs   int // Configure-Requests the server sent
	linkID uint64
}

func iidOpt(iid uint64) []byte {
	return AppendOption(nil, ipv6cpOptIID, binary.BigEndian.AppendUint64(nil, iid))
}

func (s *fakeServer) sendIPv6CPReq() {
	v := s.v6
	v.req = iidOpt(v.iid)
	if v.compress {
		v.req = AppendOption(v.req, ipv6cpOptCompression, []byte{0x00, 0x4f})
	}
	v.reqID = s.nextID()
	v.reqs++
	s.out(ProtoIPv6CP, AppendCP(nil, CodeConfReq, v.reqID, v.req))
}

func (s *fakeServer) ipv6cp(p rxPkt) {
	v := s.v6
	if v.protoRej {
		data := append([]byte{0x80, 0x57}, p.raw...)
		s.out(ProtoLCP, AppendCP(nil, CodeProtoRej, s.nextID(), data))
		return
	}
	opts, err := ParseOptions(p.data)
	if err != nil {
		s.t.Errorf("link sent malformed IPV6CP options: %v", err)
		return
	}
	switch p.code {
	case CodeConfReq:
		if v.lose > 0 {
			v.lose--
			return
		}
		if len(opts) != 1 || opts[0].Type != ipv6cpOptIID || len(opts[0].Data) != 8 {
			s.t.Errorf("link's IPV6CP request % x, want one Interface-Identifier", p.data)
			return
		}
		v.linkID = binary.BigEndian.Uint64(opts[0].Data)
		switch {
		case v.rejIID:
			s.out(ProtoIPv6CP, AppendCP(nil, CodeConfRej, p.id, p.data))
		case v.nak && !v.naked:
			v.naked = true
			s.out(ProtoIPv6CP, AppendCP(nil, CodeConfNak, p.id, iidOpt(v.nakWith)))
		default:
			s.out(ProtoIPv6CP, AppendCP(nil, CodeConfAck, p.id, p.data))
		}
		if v.reqID == 0 {
			if v.collide {
				v.iid = v.linkID
			}
			s.sendIPv6CPReq()
		}
	case CodeConfAck:
		if p.id == v.reqID && bytes.Equal(p.data, v.req) {
			v.gotAck = true
		}
	case CodeConfNak:
		for _, o := range opts {
			if o.Type == ipv6cpOptIID && len(o.Data) == 8 && !v.ignoreNak {
				v.iid = binary.BigEndian.Uint64(o.Data)
			}
		}
		s.sendIPv6CPReq()
	case CodeConfRej:
		if v.compress {
			v.compress = false
			s.sendIPv6CPReq()
		}
	}
}

func testConfig6() Config {
	c := testConfig()
	c.IPv6 = true
	return c
}

// waitEvent waits for an event of kind and returns it.
func (r *linkRun) waitEvent(kind EventKind) Event {
	r.t.Helper()
	for {
		evs, _ := r.ev.get()
		for _, e := range evs {
			if e.Kind == kind {
				return e
			}
		}
		select {
		case err := <-r.errc:
			r.errc <- err
			r.t.Fatalf("Run returned %v before event %d", err, kind)
		case <-r.ctx.Done():
			r.t.Fatalf("timed out waiting for event %d", kind)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// v6Requests returns the Interface-Identifiers of the link's IPV6CP
// Configure-Requests, in order.
func v6Requests(t *testing.T, rx []rxPkt) []uint64 {
	var out []uint64
	for _, p := range rx {
		if p.proto != ProtoIPv6CP || p.code != CodeConfReq {
			continue
		}
		opts, err := ParseOptions(p.data)
		if err != nil || len(opts) != 1 || opts[0].Type != ipv6cpOptIID || len(opts[0].Data) != 8 {
			t.Fatalf("IPV6CP request % x", p.data)
		}
		out = append(out, binary.BigEndian.Uint64(opts[0].Data))
	}
	return out
}

func sent(rx []rxPkt, proto Protocol) int {
	n := 0
	for _, p := range rx {
		if p.proto == proto {
			n++
		}
	}
	return n
}

const srvIID = 0x0211_22ff_fe33_4455

func TestLinkIPv6CP(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: srvIID}
	r := startLink(t, testConfig6(), srv)
	r.waitUp()
	ev := r.waitEvent(EventIPv6CPUp)
	reqs := v6Requests(t, srv.received())
	if len(reqs) == 0 {
		t.Fatal("no IPV6CP request")
	}
	ours := reqs[0]
	if ours == 0 || ours>>56&0x02 != 0 {
		t.Errorf("our identifier %016x: want non-zero with the u bit clear (RFC 5072 4.1)", ours)
	}
	info := ev.IPv6
	if info.LocalIID != ours || info.PeerIID != srvIID {
		t.Errorf("IPv6CPUp %+v, want local %016x peer %016x", info, ours, uint64(srvIID))
	}
	if want := netip.MustParseAddr("fe80::211:22ff:fe33:4455"); info.Peer != want {
		t.Errorf("peer link-local %v, want %v", info.Peer, want)
	}
	if !info.Local.IsLinkLocalUnicast() || binary.BigEndian.Uint64(info.Local.AsSlice()[8:]) != ours {
		t.Errorf("local link-local %v for identifier %016x", info.Local, ours)
	}
	if !r.l.IPv6Open() || !r.l.IPv4Open() {
		t.Errorf("IPv6Open %v IPv4Open %v, want both", r.l.IPv6Open(), r.l.IPv4Open())
	}
	// IPV6CP starts only once IPCP is open (startIPv6CP: SoftEther).
	evs, at := r.ev.get()
	for i, e := range evs {
		if e.Kind == EventIPCPUp {
			for _, p := range srv.received() {
				if p.proto == ProtoIPv6CP && p.at.Before(at[i]) {
					t.Errorf("IPV6CP %v sent at %v, before IPCP opened at %v", p.code, p.at, at[i])
				}
			}
		}
	}
	if r.l.IPv6Info() != info {
		t.Errorf("IPv6Info() = %+v, want %+v", r.l.IPv6Info(), info)
	}
	srv.locked(func() {
		if !srv.v6.gotAck {
			t.Error("the link did not acknowledge the server's IPV6CP request")
		}
	})
	// An IPv6 packet reaching the link (before the data path takes it) is
	// dropped, not Protocol-Rejected.
	srv.out(ProtoIPv6, []byte{0x60, 0, 0, 0})
	r.closeAndWait()
	if r.l.IPv6Open() {
		t.Error("IPv6Open after Run returned")
	}
	select {
	case p := <-srv.protoRejs:
		t.Errorf("Protocol-Reject % x with IPv6 on", p.data)
	default:
	}
}

// With Config.IPv6 off (the default) nothing changes: no IPV6CP is sent
// and the server's is Protocol-Rejected.
func TestLinkIPv6CPOffByDefault(t *testing.T) {
	srv := newFakeServer(t)
	r := startLink(t, testConfig(), srv)
	r.waitUp()
	req := AppendCP(nil, CodeConfReq, 1, iidOpt(srvIID))
	srv.out(ProtoIPv6CP, req)
	p := recvPkt(t, r.ctx, srv.protoRejs, "Protocol-Reject")
	if !bytes.Equal(p.data, append([]byte{0x80, 0x57}, req...)) {
		t.Errorf("Protocol-Reject data % x", p.data)
	}
	srv.out(ProtoIPv6, []byte{0x60, 0, 0, 0})
	p = recvPkt(t, r.ctx, srv.protoRejs, "Protocol-Reject")
	if !bytes.Equal(p.data[:2], []byte{0x00, 0x57}) {
		t.Errorf("Protocol-Reject data % x, want IPv6 rejected", p.data)
	}
	if n := sent(srv.received(), ProtoIPv6CP); n != 0 {
		t.Errorf("%d IPV6CP packets sent with IPv6 off", n)
	}
	if r.l.IPv6Open() {
		t.Error("IPv6Open with IPv6 off")
	}
	r.closeAndWait()
}

// RFC 5072 4.1: a Configure-Nak's suggestion becomes our identifier.
func TestLinkIPv6CPNakSuggestion(t *testing.T) {
	const suggested = 0x0000_0000_0000_0abc
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: srvIID, nak: true, nakWith: suggested}
	r := startLink(t, testConfig6(), srv)
	ev := r.waitEvent(EventIPv6CPUp)
	reqs := v6Requests(t, srv.received())
	if len(reqs) < 2 || reqs[len(reqs)-1] != suggested {
		t.Fatalf("requests %x, want the last one %x", reqs, suggested)
	}
	if ev.IPv6.LocalIID != suggested || ev.IPv6.Local != netip.MustParseAddr("fe80::abc") {
		t.Errorf("IPv6CPUp %+v, want local %x", ev.IPv6, suggested)
	}
	r.closeAndWait()
}

// A Nak suggesting 0 is unusable: the link picks a new random identifier
// instead (RFC 5072 4.1).
func TestLinkIPv6CPNakUnusableSuggestion(t *testing.T) {
	for _, nakWith := range []uint64{0} {
		srv := newFakeServer(t)
		srv.v6 = &v6Server{iid: srvIID, nak: true, nakWith: nakWith}
		r := startLink(t, testConfig6(), srv)
		ev := r.waitEvent(EventIPv6CPUp)
		reqs := v6Requests(t, srv.received())
		if len(reqs) < 2 {
			t.Fatalf("requests %x, want a second one after the Nak", reqs)
		}
		last := reqs[len(reqs)-1]
		if last == 0 || last == srvIID || last == reqs[0] || ev.IPv6.LocalIID != last {
			t.Errorf("Nak with %x: requests %x, up with %x", nakWith, reqs, ev.IPv6.LocalIID)
		}
		r.closeAndWait()
	}
}

// A server asking for identifier 0 is Nak'd with a non-zero suggestion
// different from ours (RFC 5072 4.1) and takes it.
func TestLinkIPv6CPPeerZero(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: 0}
	r := startLink(t, testConfig6(), srv)
	ev := r.waitEvent(EventIPv6CPUp)
	naks := 0
	for _, p := range srv.received() {
		if p.proto == ProtoIPv6CP && p.code == CodeConfNak {
			naks++
			if len(p.data) != 10 || p.data[0] != ipv6cpOptIID {
				t.Fatalf("Nak % x", p.data)
			}
			if s := binary.BigEndian.Uint64(p.data[2:]); s == 0 || s == ev.IPv6.LocalIID {
				t.Errorf("Nak suggests %x (ours %x)", s, ev.IPv6.LocalIID)
			}
		}
	}
	if naks != 1 {
		t.Errorf("%d Naks, want 1", naks)
	}
	srv.locked(func() {
		if ev.IPv6.PeerIID == 0 || ev.IPv6.PeerIID != srv.v6.iid {
			t.Errorf("peer identifier %x, server uses %x", ev.IPv6.PeerIID, srv.v6.iid)
		}
	})
	r.closeAndWait()
}

// The server's request carries our own identifier: a collision, Nak'd
// with a different one (RFC 5072 4.1).
func TestLinkIPv6CPCollision(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{collide: true}
	r := startLink(t, testConfig6(), srv)
	ev := r.waitEvent(EventIPv6CPUp)
	if ev.IPv6.PeerIID == ev.IPv6.LocalIID || ev.IPv6.PeerIID == 0 {
		t.Errorf("up with local %x peer %x", ev.IPv6.LocalIID, ev.IPv6.PeerIID)
	}
	if n := count(srv.received(), ProtoIPv6CP, CodeConfNak); n != 1 {
		t.Errorf("%d Naks, want 1", n)
	}
	r.closeAndWait()
}

// Header compression (RFC 5072 4.2) is not offered by us: rejected.
func TestLinkIPv6CPRejectsCompression(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: srvIID, compress: true}
	r := startLink(t, testConfig6(), srv)
	r.waitEvent(EventIPv6CPUp)
	rej := 0
	for _, p := range srv.received() {
		if p.proto == ProtoIPv6CP && p.code == CodeConfRej {
			rej++
			if !bytes.Equal(p.data, AppendOption(nil, ipv6cpOptCompression, []byte{0x00, 0x4f})) {
				t.Errorf("Reject % x, want only the compression option", p.data)
			}
		}
	}
	if rej != 1 {
		t.Errorf("%d Rejects, want 1", rej)
	}
	r.closeAndWait()
}

// waitQuiet lets the link run for several restart periods.
func waitQuiet() { time.Sleep(300 * time.Millisecond) }

// A server rejecting the Interface-Identifier ends IPV6CP; IPv4 goes on,
// no further IPV6CP is sent, and a later IPV6CP request is answered with
// Protocol-Reject.
func TestLinkIPv6CPRejectedIID(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: srvIID, rejIID: true}
	r := startLink(t, testConfig6(), srv)
	r.waitUp()
	waitQuiet()
	rx := srv.received()
	if n := count(rx, ProtoIPv6CP, CodeConfReq); n != 1 {
		t.Errorf("%d IPV6CP requests, want 1 (none after the Reject)", n)
	}
	if r.l.IPv6Open() || !r.l.IPv4Open() {
		t.Errorf("IPv6Open %v IPv4Open %v, want IPv4 only", r.l.IPv6Open(), r.l.IPv4Open())
	}
	evs, _ := r.ev.get()
	for _, e := range evs {
		if e.Kind == EventIPv6CPUp {
			t.Error("IPv6CPUp after the Reject")
		}
	}
	srv.out(ProtoIPv6CP, AppendCP(nil, CodeConfReq, 77, iidOpt(srvIID)))
	p := recvPkt(t, r.ctx, srv.protoRejs, "Protocol-Reject")
	if !bytes.Equal(p.data[:2], []byte{0x80, 0x57}) {
		t.Errorf("Protocol-Reject % x", p.data)
	}
	r.closeAndWait()
}

// A server that does not speak IPV6CP (Protocol-Reject, RFC 1661 5.7):
// IPV6CP stops at once and quietly; the link stays up.
func TestLinkIPv6CPProtocolReject(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{protoRej: true}
	r := startLink(t, testConfig6(), srv)
	r.waitUp()
	waitQuiet()
	rx := srv.received()
	if n := sent(rx, ProtoIPv6CP); n != 1 {
		t.Errorf("%d IPV6CP packets, want 1 (none after the Protocol-Reject)", n)
	}
	if r.l.IPv6Open() || !r.l.IPv4Open() {
		t.Errorf("IPv6Open %v IPv4Open %v, want IPv4 only", r.l.IPv6Open(), r.l.IPv4Open())
	}
	r.closeAndWait()
	if n := count(srv.received(), ProtoLCP, CodeTermReq); n != 1 {
		t.Errorf("%d LCP Terminate-Requests, want 1", n)
	}
}

// Lost IPV6CP requests are retransmitted with the same identifier.
func TestLinkIPv6CPLoss(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: srvIID, lose: 2}
	r := startLink(t, testConfig6(), srv)
	ev := r.waitEvent(EventIPv6CPUp)
	reqs := v6Requests(t, srv.received())
	if len(reqs) < 3 || reqs[0] != reqs[1] || reqs[1] != reqs[2] || ev.IPv6.LocalIID != reqs[0] {
		t.Errorf("requests %x, up with %x: want three identical", reqs, ev.IPv6.LocalIID)
	}
	r.closeAndWait()
}

// A server that never answers IPV6CP: the link gives up on it after
// Max-Configure requests and IPv4 carries on.
func TestLinkIPv6CPNoAnswer(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: srvIID, lose: 1000}
	cfg := testConfig6()
	cfg.MaxConfigure = 3
	r := startLink(t, cfg, srv)
	r.waitUp()
	time.Sleep(600 * time.Millisecond) // 20+40+80 ms of restart timer, with margin
	if n := count(srv.received(), ProtoIPv6CP, CodeConfReq); n != 3 {
		t.Errorf("%d IPV6CP requests, want Max-Configure = 3", n)
	}
	if r.l.IPv6Open() || !r.l.IPv4Open() {
		t.Errorf("IPv6Open %v IPv4Open %v, want IPv4 only", r.l.IPv6Open(), r.l.IPv4Open())
	}
	r.closeAndWait()
}

// A server that ignores our Naks of identifier 0 gets a Reject once
// Max-Failure Naks have gone unheeded (RFC 1661 4.6); IPv4 is unaffected.
func TestLinkIPv6CPMaxFailure(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: 0, ignoreNak: true}
	cfg := testConfig6()
	cfg.MaxFailure = 2
	r := startLink(t, cfg, srv)
	r.waitUp()
	deadline := time.Now().Add(2 * time.Second)
	for count(srv.received(), ProtoIPv6CP, CodeConfRej) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	rx := srv.received()
	if n := count(rx, ProtoIPv6CP, CodeConfNak); n != 2 {
		t.Errorf("%d Naks, want Max-Failure = 2", n)
	}
	if n := count(rx, ProtoIPv6CP, CodeConfRej); n == 0 {
		t.Error("no Reject after Max-Failure")
	}
	if !r.l.IPv4Open() {
		t.Error("IPv4 down")
	}
	r.closeAndWait()
}

// A peer that starts IPV6CP before our IPCP has opened gets its answer at
// once: the link starts IPV6CP then rather than after IPCP.
func TestLinkIPv6CPPeerFirst(t *testing.T) {
	srv := newFakeServer(t)
	srv.ipcpSilent = true // IPCP never opens
	srv.v6 = &v6Server{iid: srvIID}
	r := startLink(t, testConfig6(), srv)
	r.waitEvent(EventAuthOK)
	srv.locked(func() { srv.sendIPv6CPReq() })
	ev := r.waitEvent(EventIPv6CPUp)
	if ev.IPv6.PeerIID != srvIID || r.l.IPv4Open() {
		t.Errorf("IPv6CPUp %+v, IPv4Open %v", ev.IPv6, r.l.IPv4Open())
	}
}

// LCP going down takes IPV6CP with it (RFC 1661 3.4: the NCPs are brought
// down with the link), without an IPV6CP Terminate of its own.
func TestLinkIPv6CPDownWithLCP(t *testing.T) {
	srv := newFakeServer(t)
	srv.v6 = &v6Server{iid: srvIID}
	r := startLink(t, testConfig6(), srv)
	r.waitEvent(EventIPv6CPUp)
	srv.out(ProtoLCP, AppendCP(nil, CodeTermReq, 0x55, []byte("admin reset")))
	var te *TerminatedError
	if err := r.wait(); !errors.As(err, &te) {
		t.Fatalf("Run = %v, want *TerminatedError", err)
	}
	if r.l.IPv6Open() || r.l.IPv4Open() {
		t.Errorf("IPv6Open %v IPv4Open %v after LCP went down", r.l.IPv6Open(), r.l.IPv4Open())
	}
	if n := count(srv.received(), ProtoIPv6CP, CodeTermReq); n != 0 {
		t.Errorf("%d IPV6CP Terminate-Requests, want none", n)
	}
}

func TestDescribeIPv6CPOptions(t *testing.T) {
	opts := append(iidOpt(srvIID), AppendOption(nil, ipv6cpOptCompression, []byte{0x00, 0x4f})...)
	if got, want := describeOptions(ProtoIPv6CP, opts), "IID=021122fffe334455 opt2=004f"; got != want {
		t.Errorf("describeOptions = %q, want %q", got, want)
	}
	if got, want := (IPv6Info{LocalIID: 1, Local: LinkLocal(1), PeerIID: 2, Peer: LinkLocal(2)}).String(), "fe80::1 peer fe80::2"; got != want {
		t.Errorf("IPv6Info.String() = %q, want %q", got, want)
	}
}
