package ike

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// serveResponder runs r on two loopback UDP sockets (IKE, NAT-T) until
// the test ends and returns their ports.
func serveResponder(t *testing.T, r *Responder) [2]uint16 {
	t.Helper()
	var conns [2]*net.UDPConn
	for i := range conns {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	ports := [2]uint16{uint16(conns[0].LocalAddr().(*net.UDPAddr).Port), uint16(conns[1].LocalAddr().(*net.UDPAddr).Port)}
	r.Ports, r.Local = ports, netip.AddrFrom4([4]byte{127, 0, 0, 1})
	var wg sync.WaitGroup
	serve := func(c *net.UDPConn, floated bool) {
		defer wg.Done()
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			b := buf[:n]
			if floated {
				if len(b) < 4 || b[0]|b[1]|b[2]|b[3] != 0 {
					continue // ESP and keepalives: not within these tests
				}
				b = b[4:]
			}
			replies, _, _ := r.Handle(b, from, floated)
			for _, m := range replies {
				if floated {
					m = append(make([]byte, 4), m...)
				}
				c.WriteToUDPAddrPort(m, from)
			}
		}
	}
	wg.Add(2)
	go serve(conns[0], false)
	go serve(conns[1], true)
	t.Cleanup(func() {
		conns[0].Close()
		conns[1].Close()
		wg.Wait()
	})
	return ports
}

// The exported Responder with ResponderCert completes Main Mode with RSA
// signatures (RFC 2409 5.1) and Quick Mode against the real initiator:
// it verifies the client's signature and chain and tells OnClient; the
// client verifies the Responder's certificate. A client certificate from
// a CA the Responder does not trust gets no MM6: the client says the
// server does not accept its certificate.
func TestResponderCertDial(t *testing.T) {
	p := newTestPKI(t)
	var mu sync.Mutex
	var seen []*x509.Certificate
	r := &Responder{Cert: &ResponderCert{Chain: []*x509.Certificate{p.server}, Key: p.serverKey, ClientCA: []*x509.Certificate{p.ca},
		OnClient: func(_ ID, chain []*x509.Certificate) {
			mu.Lock()
			seen = append(seen, chain[0])
			mu.Unlock()
		}}}
	ports := serveResponder(t, r)
	cfg := Config{Cert: []*x509.Certificate{p.client}, Key: p.userKey, CA: []*x509.Certificate{p.ca}, ServerName: "127.0.0.1",
		serverPorts: ports, Retransmit: []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, netip.AddrFrom4([4]byte{127, 0, 0, 1}), cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	c.Close()
	mu.Lock()
	if len(seen) != 1 || !seen[0].Equal(p.client) {
		t.Errorf("OnClient saw %d certificates", len(seen))
	}
	mu.Unlock()

	// mallory, from another CA.
	mallory := p.issue(t, p.otherCA, p.otherCAKey, &x509.Certificate{}, &p.userKey.PublicKey)
	cfg.Cert = []*x509.Certificate{mallory}
	_, err = Dial(ctx, netip.AddrFrom4([4]byte{127, 0, 0, 1}), cfg)
	if !errors.Is(err, ErrCertRefused) {
		t.Errorf("a client certificate the server does not trust: %v", err)
	}
	mu.Lock()
	if len(seen) != 1 {
		t.Errorf("OnClient told of an untrusted client")
	}
	mu.Unlock()
}
