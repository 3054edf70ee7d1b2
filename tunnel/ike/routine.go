package ike

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"time"
)

// rekeyAt is when an SA of lifetime d born at t is renegotiated: a tenth
// of its life early, at most five minutes early (RFC 2409 leaves the
// margin to us; the peer may expire it on the dot).
func rekeyAt(t time.Time, d time.Duration) time.Time {
	return t.Add(d - min(d/10, 5*time.Minute))
}

// graceOldSA is how long the inbound SA of the pair a rekey replaced is
// still accepted, for packets the server sent before it switched.
const graceOldSA = 10 * time.Second

// routineIKE owns the IKE SA once Dial returns: it answers the server's
// informational exchanges, sends NAT keepalives (RFC 3948 4) and DPD
// R-U-THERE (RFC 3706), and rekeys before the lifetimes run out.
func (c *Conn) routineIKE(ctx context.Context) {
	defer c.routine.Done()
	period := min(time.Second, c.cfg.DPDInterval/4, c.cfg.KeepaliveInterval/4)
	tick := time.NewTicker(period)
	defer tick.Stop()
	lastKeepalive, lastDPD := time.Now(), time.Time{}
	var retiredAt time.Time // when a rekey replaced c.retired
	for {
		select {
		case <-ctx.Done():
			return
		case b := <-c.ikeCh:
			c.unsolicited(b)
		case <-c.rekeyCh:
			if c.out.Load().SeqNumber() < seqRekey {
				continue // a stale signal: already rekeyed
			}
			old := c.child
			if err := c.rekeyChild(ctx); err == nil {
				if c.retired != nil {
					c.retire(c.retired)
				}
				c.retired, retiredAt = old, time.Now()
			}
		case now := <-tick.C:
			if now.Sub(lastKeepalive) >= c.cfg.KeepaliveInterval {
				c.udp.WriteToUDPAddrPort([]byte{0xff}, netip.AddrPortFrom(c.server, c.nattPort))
				lastKeepalive = now
			}
			if c.rxSeen.Swap(false) {
				c.lastRecv.Store(now.UnixNano())
			}
			idle := now.Sub(time.Unix(0, c.lastRecv.Load()))
			if idle >= c.cfg.DPDTimeout {
				c.fail(fmt.Errorf("%w: nothing received for %v", ErrPeerDead, idle.Round(time.Second)))
				return
			}
			if idle >= c.cfg.DPDInterval && c.ike.dpd && now.Sub(lastDPD) >= c.cfg.DPDInterval/2 {
				c.sendDPD()
				lastDPD = now
			}
			if c.retired != nil && now.Sub(retiredAt) >= graceOldSA {
				c.retire(c.retired)
				c.retired = nil
			}
			if now.After(rekeyAt(c.ike.born, c.ike.lifetime)) && now.After(c.ike.retry) {
				if err := c.rekeyIKE(ctx); err != nil && now.After(c.ike.born.Add(c.ike.lifetime)) {
					c.fail(fmt.Errorf("ike: the IKE SA expired and could not be renewed: %w", err))
					return
				}
			}
			if now.After(rekeyAt(c.child.born, c.child.lifetime)) && now.After(c.child.retry) {
				old := c.child
				if err := c.rekeyChild(ctx); err == nil {
					if c.retired != nil {
						c.retire(c.retired)
					}
					c.retired, retiredAt = old, time.Now()
				} else if now.After(old.born.Add(old.lifetime)) {
					c.fail(fmt.Errorf("ike: the ESP SA expired and could not be renewed: %w", err))
					return
				}
			}
		}
	}
}

// rekeyChild negotiates a new ESP SA pair with Quick Mode and switches
// outbound traffic to it; the old inbound SA stays for graceOldSA.
func (c *Conn) rekeyChild(ctx context.Context) error {
	ch, err := c.quickMode(ctx, c.ike)
	if err != nil {
		c.log.Warn("ipsec rekey failed", "err", err)
		// Try again later, not on every tick.
		c.child.retry = time.Now().Add(min(30*time.Second, c.child.lifetime/20))
		return err
	}
	c.install(ch)
	c.publish()
	c.cfg.OnStage(Stage{Kind: StageRekeyESP, ESP: ch.suite, InSPI: ch.in.SPI(), OutSPI: ch.out.SPI()})
	return nil
}

// retire forgets the inbound SA of a replaced pair and deletes it at the
// server (RFC 2408 3.15).
func (c *Conn) retire(old *childSA) {
	in := c.in.Load()
	if in.prev == old.in {
		c.in.Store(&inbound{cur: in.cur})
	}
	spi := binary.BigEndian.AppendUint32(nil, old.in.SPI())
	c.sendInfo(c.ike, []Payload{{PayloadDelete, Delete{Protocol: protoESP, SPIs: [][]byte{spi}}.Append(nil)}})
}

// rekeyIKE runs a new Main Mode (on port 4500) and deletes the old IKE SA.
func (c *Conn) rekeyIKE(ctx context.Context) error {
	sa, err := c.mainMode(ctx)
	if err != nil {
		c.log.Warn("ike rekey failed", "err", err)
		c.ike.retry = time.Now().Add(min(time.Minute, c.ike.lifetime/20))
		return err
	}
	old := c.ike
	c.ike = sa
	c.publish()
	c.sendDelete(old, nil)
	c.cfg.OnStage(Stage{Kind: StageRekeyIKE, IKE: sa.suite, Aggressive: c.cfg.Aggressive})
	return nil
}

// sendInfo sends an Informational exchange protected by sa (RFC 2409 5.7).
func (c *Conn) sendInfo(sa *ikeSA, ps []Payload) {
	midb, err := random(c.cfg.Rand, 4)
	if err != nil {
		return
	}
	mid := binary.BigEndian.Uint32(midb) | 1
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], mid)
	msg, _ := sa.seal(ExchangeInformational, mid, sa.p2IV(mid), sa.hashed(mb[:], ps))
	if err := c.send(msg); err != nil {
		c.log.Debug("ike send", "err", err)
	}
}

func cookies(sa *ikeSA) []byte {
	return append(append([]byte(nil), sa.ci[:]...), sa.cr[:]...)
}

// sendDelete deletes ch's SAs (when not nil) and then sa itself.
func (c *Conn) sendDelete(sa *ikeSA, ch *childSA) {
	if ch != nil {
		spi := binary.BigEndian.AppendUint32(nil, ch.in.SPI())
		c.sendInfo(sa, []Payload{{PayloadDelete, Delete{Protocol: protoESP, SPIs: [][]byte{spi}}.Append(nil)}})
		c.log.Debug("ike send", "msg", "Delete ESP", "spi", fmt.Sprintf("%08x", ch.in.SPI()))
	}
	c.sendInfo(sa, []Payload{{PayloadDelete, Delete{Protocol: protoISAKMP, SPIs: [][]byte{cookies(sa)}}.Append(nil)}})
	c.log.Debug("ike send", "msg", "Delete ISAKMP")
}

// sendDPD sends R-U-THERE (RFC 3706 5.1).
func (c *Conn) sendDPD() {
	c.dpdSeq++
	seq := binary.BigEndian.AppendUint32(nil, c.dpdSeq)
	c.sendInfo(c.ike, []Payload{{PayloadNotify, Notify{Protocol: protoISAKMP, Type: NotifyRUThere, SPI: cookies(c.ike), Data: seq}.Append(nil)}})
	c.log.Debug("ike send", "msg", "R-U-THERE", "seq", c.dpdSeq)
}

// unsolicited handles an IKE message nobody waits for: informational
// exchanges, and Quick Modes the server starts itself (which we do not
// answer: ours is the pair we use).
func (c *Conn) unsolicited(b []byte) {
	h, body, err := ParseHeader(b)
	if err != nil || c.ike == nil || h.ICookie() != c.ike.ci {
		return
	}
	if reply, ok := c.replies[string(b)]; ok {
		c.log.Debug("ike: peer repeated a message; resending our answer")
		c.send(reply)
		return
	}
	sa := c.ike
	if h.RCookie() != sa.cr {
		return
	}
	switch {
	case h.Exchange() == ExchangeInformational && h.Flags()&FlagEncryption != 0:
		ps, err := c.openInfo(sa, h, body)
		if err != nil {
			c.drop("informational", err)
			return
		}
		c.informational(sa, ps)
	case h.Exchange() == ExchangeQuick:
		c.log.Debug("ike recv", "msg", "quick mode started by the server: not answered", "mid", h.MessageID())
	default:
		c.log.Debug("ike recv", "msg", "ignored", "exchange", h.Exchange(), "flags", h.Flags())
	}
}

// openInfo decrypts and authenticates an Informational exchange
// protected by sa (RFC 2409 5.7: HASH(1) = prf(SKEYID_a, M-ID | N/D)) and
// refuses a replay: a message ID seen before on sa.
func (c *Conn) openInfo(sa *ikeSA, h Header, body []byte) ([]Payload, error) {
	ps, plain, _, err := sa.open(h, body, sa.p2IV(h.MessageID()))
	if err != nil {
		return nil, fmt.Errorf("informational: %w", err)
	}
	var mb [4]byte
	binary.BigEndian.PutUint32(mb[:], h.MessageID())
	if err := sa.checkHash(ps, plain, mb[:]); err != nil {
		return nil, fmt.Errorf("informational: %w", err)
	}
	if !sa.infoIDs.add(h.MessageID()) {
		return nil, fmt.Errorf("informational: replay of message ID %08x", h.MessageID())
	}
	c.lastRecv.Store(c.cfg.now().UnixNano())
	return ps, nil
}

// informational acts on the payloads of an authenticated Informational
// exchange.
func (c *Conn) informational(sa *ikeSA, ps []Payload) {
	for _, p := range ps {
		switch p.Type {
		case PayloadNotify:
			n, err := ParseNotify(p.Body)
			if err != nil {
				continue
			}
			switch {
			case n.Type == NotifyRUThere:
				c.log.Debug("ike recv", "msg", "R-U-THERE")
				c.sendInfo(sa, []Payload{{PayloadNotify, Notify{Protocol: protoISAKMP, Type: NotifyRUThereAck, SPI: cookies(sa), Data: n.Data}.Append(nil)}})
				c.log.Debug("ike send", "msg", "R-U-THERE-ACK")
			case n.Type == NotifyRUThereAck:
				c.log.Debug("ike recv", "msg", "R-U-THERE-ACK")
			case n.Type.IsError():
				c.log.Warn("ike: server reported an error", "notify", n.Type.String(), "meaning", n.Type.Words())
			default:
				c.log.Debug("ike recv", "notify", n.Type.String())
			}
		case PayloadDelete:
			d, err := ParseDelete(p.Body)
			if err != nil {
				continue
			}
			c.peerDelete(sa, d)
		}
	}
}

// peerDelete handles the server's Delete: of our current SA pair or the
// IKE SA it ends the session; of a retired SA it is expected.
func (c *Conn) peerDelete(sa *ikeSA, d Delete) {
	for _, spi := range d.SPIs {
		switch {
		case d.Protocol == protoESP && len(spi) == 4:
			v := binary.BigEndian.Uint32(spi)
			c.log.Debug("ike recv", "msg", "Delete ESP", "spi", fmt.Sprintf("%08x", v))
			// The server names its inbound SPI, our outbound one.
			if c.child != nil && v == c.out.Load().SPI() {
				c.fail(fmt.Errorf("%w (it deleted the ESP SA)", ErrPeerDeleted))
			}
		case d.Protocol == protoISAKMP && len(spi) == 16:
			c.log.Debug("ike recv", "msg", "Delete ISAKMP")
			if string(spi) == string(cookies(c.ike)) {
				c.fail(fmt.Errorf("%w (it deleted the IKE SA)", ErrPeerDeleted))
			}
		}
	}
}
