package ike

import (
	"bytes"
	"errors"
	"net"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

// espKeyCopies returns the key copies an esp.SA keeps in memory of its
// own (its HMAC key and AES-GCM salt, unexported: read through reflect).
func espKeyCopies(t *testing.T, sa *esp.SA) []byte {
	t.Helper()
	v := reflect.ValueOf(sa).Elem()
	mac, salt := v.FieldByName("macKey"), v.FieldByName("salt")
	if !mac.IsValid() || !salt.IsValid() {
		t.Fatal("esp.SA has no fields macKey and salt any more: update this test")
	}
	b := bytes.Clone(mac.Bytes())
	for i := range salt.Len() {
		b = append(b, byte(salt.Index(i).Uint()))
	}
	return b
}

func zero(b []byte) bool { return len(bytes.Trim(b, "\x00")) == 0 }

// TestCloseWipesKeys: after Close, the pre-shared key, the IKE SA's keys
// and the ESP keys of every SA the Conn still holds (the current pair and
// the one a rekey replaced) are zeros; the caller's PSK is left alone.
func TestCloseWipesKeys(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "a pre-shared key").start()
	cfg := r.config()
	cfg.ESPLifetime = 2 * time.Second // a rekey at 1.8 s
	var stages stageLog
	cfg.OnStage = stages.add
	psk := bytes.Clone(cfg.PSK)
	c, rd := mustDial(t, cfg)
	echo(t, c, rd, []byte("before the rekey"), true)
	deadline := time.Now().Add(5 * time.Second)
	for stages.count("ipsec: sa rekeyed") < 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if stages.count("ipsec: sa rekeyed") < 1 {
		t.Fatalf("no rekey in 5 s: %s", stages.String())
	}
	echo(t, c, rd, []byte("after the rekey"), true)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Close waited for the IKE goroutine: its fields can be read now.
	if !bytes.Equal(cfg.PSK, psk) {
		t.Error("Close wiped the caller's pre-shared key")
	}
	if len(c.cfg.PSK) != len(psk) || !zero(c.cfg.PSK) {
		t.Errorf("the Conn's pre-shared key after Close: %q", c.cfg.PSK)
	}
	k := c.ike.keys
	for name, b := range map[string][]byte{"SKEYID": k.skeyid, "SKEYID_d": k.d, "SKEYID_a": k.a, "SKEYID_e": k.e, "phase-1 cipher key": k.encKey} {
		if len(b) == 0 || !zero(b) {
			t.Errorf("%s after Close: % x", name, b)
		}
	}
	if c.retired == nil {
		t.Fatal("no retired SA pair to check")
	}
	in := c.in.Load()
	sas := map[string]*esp.SA{
		"outbound": c.out.Load(), "inbound": in.cur, "previous inbound": in.prev,
		"current pair's inbound": c.child.in, "current pair's outbound": c.child.out,
		"retired inbound": c.retired.in, "retired outbound": c.retired.out,
	}
	for name, sa := range sas {
		if sa == nil {
			t.Errorf("no %s SA", name)
			continue
		}
		if b := espKeyCopies(t, sa); len(b) == 0 || !zero(b) {
			t.Errorf("%s SA %08x: key copies after Close: % x", name, sa.SPI(), b)
		}
	}
}

// TestCloseWhileSending closes a Conn with packets being sealed and
// opened: Close waits for them before it wipes the keys (the race
// detector watches), and later writes fail.
func TestCloseWhileSending(t *testing.T) {
	t.Parallel()
	r := newTestResponder(t, "k").start()
	c, rd := mustDial(t, r.config())
	echo(t, c, rd, []byte("first"), true)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() {
			for n := 0; n < 1_000_000; n++ {
				if errs[i] = writeL2TP(c, l2tpPayload(n, 100), i == 0); errs[i] != nil {
					return
				}
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	c.Close()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("writer %d ended with %v, want net.ErrClosed", i, err)
		}
	}
	if !zero(c.cfg.PSK) {
		t.Error("pre-shared key not wiped")
	}
}

// The gate's close waits for a packet inside; afterwards none gets in.
func TestGate(t *testing.T) {
	var g gate
	if !g.enter() {
		t.Fatal("a new gate is shut")
	}
	closed := make(chan struct{})
	go func() { g.close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("close did not wait for the packet inside")
	case <-time.After(50 * time.Millisecond):
	}
	g.leave()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("close still waiting after leave")
	}
	if g.enter() {
		t.Fatal("entered a shut gate")
	}
}
