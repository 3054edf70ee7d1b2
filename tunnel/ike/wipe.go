package ike

import (
	"sync"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

// gate lets Close wait for the packets being sealed or opened and keeps
// any more from starting, so that it can wipe the keys. Its zero value is
// open.
type gate struct {
	mu   sync.RWMutex
	shut bool // under mu
}

// enter reports whether the gate is open; if it is, the caller may use
// the keys until it calls leave.
func (g *gate) enter() bool {
	g.mu.RLock()
	if g.shut {
		g.mu.RUnlock()
		return false
	}
	return true
}

func (g *gate) leave() { g.mu.RUnlock() }

// close shuts the gate once every caller of enter has left.
func (g *gate) close() {
	g.mu.Lock()
	g.shut = true
	g.mu.Unlock()
}

// wipeKeys overwrites with zeros the key material the Conn holds in byte
// slices: its copy of the pre-shared key; SKEYID, SKEYID_d, SKEYID_a,
// SKEYID_e and the phase-1 cipher key of the IKE SA; and the ESP keys the
// SAs of the current pair, the one a rekey replaced and the inbound one
// still accepted keep (esp.SA.Wipe). Nothing may use them afterwards: Dial
// calls it when the handshake fails, Close once the IKE goroutine has
// ended and both gates are shut.
//
// The key schedules inside the cipher.Block of the IKE SA and the ciphers,
// AEADs and HMAC states of the ESP SAs cannot be wiped (the standard
// library offers no way to); they go with the garbage collector.
func (c *Conn) wipeKeys() {
	clear(c.cfg.PSK)
	if c.ike != nil {
		c.ike.wipe()
	}
	sas := []*esp.SA{c.out.Load()}
	if in := c.in.Load(); in != nil {
		sas = append(sas, in.cur, in.prev)
	}
	for _, ch := range []*childSA{c.child, c.retired} {
		if ch != nil {
			sas = append(sas, ch.in, ch.out)
		}
	}
	for _, sa := range sas {
		if sa != nil {
			sa.Wipe()
		}
	}
}

// wipe overwrites the IKE SA's keys with zeros (its cipher.Block cannot
// be wiped).
func (s *ikeSA) wipe() {
	k := &s.keys
	for _, b := range [][]byte{k.skeyid, k.d, k.a, k.e, k.encKey} {
		clear(b)
	}
}
