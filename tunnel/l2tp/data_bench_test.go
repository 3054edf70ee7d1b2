package l2tp

import (
	"testing"
)

// discardTransport counts what it is asked to send.
type discardTransport struct{ n, bytes int }

func (d *discardTransport) ReadPacket([]byte) (int, int, error) { select {} }
func (d *discardTransport) WritePacket(buf []byte, off int) error {
	d.n++
	d.bytes += len(buf) - off
	return nil
}
func (d *discardTransport) Close() error { return nil }

// establishedConn returns a Conn whose session is up, as after ICCN.
func establishedConn(tr Transport, onData func([]byte, int, int)) *Conn {
	c := NewConn(tr, Config{OnData: onData})
	c.peerTID.Store(0x1234)
	c.peerSID.Store(0x5678)
	c.sessionUp.Store(true)
	return c
}

const benchPayload = 1400 // bytes of PPP frame per packet

// BenchmarkSendData: the L2TP encapsulation of one data packet (header
// written in place) handed to a transport that discards it.
func BenchmarkSendData(b *testing.B) {
	tr := &discardTransport{}
	c := establishedConn(tr, nil)
	buf := make([]byte, 128+benchPayload)
	b.SetBytes(benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.SendData(buf, 128); err != nil {
			b.Fatal(err)
		}
	}
	if tr.n == 0 || tr.bytes != tr.n*(benchPayload+DataHeaderLen) {
		b.Fatalf("transport saw %d packets, %d bytes", tr.n, tr.bytes)
	}
}

// BenchmarkReceiveData: parsing one received data message and handing its
// PPP frame to OnData in place (the receive loop's per-packet work).
func BenchmarkReceiveData(b *testing.B) {
	var got int
	c := establishedConn(&discardTransport{}, func(buf []byte, off, end int) { got += end - off })
	pkt := make([]byte, 2048)
	PutDataHeader(pkt, c.ourTID, uint16(c.ourSID.Load()))
	n := DataHeaderLen + benchPayload
	b.SetBytes(benchPayload)
	b.ReportAllocs()
	for b.Loop() {
		c.dispatch(pkt, 0, n)
	}
	if got == 0 || got%benchPayload != 0 {
		b.Fatalf("OnData saw %d bytes", got)
	}
}

func TestDispatchRoutesData(t *testing.T) {
	var frames [][]byte
	c := establishedConn(&discardTransport{}, func(buf []byte, off, end int) {
		frames = append(frames, append([]byte(nil), buf[off:end]...))
	})
	pkt := make([]byte, 64)
	PutDataHeader(pkt, c.ourTID, uint16(c.ourSID.Load()))
	copy(pkt[DataHeaderLen:], "\xff\x03\x00\x21ip")
	c.dispatch(pkt, 0, DataHeaderLen+6)
	PutDataHeader(pkt, c.ourTID, uint16(c.ourSID.Load())+1) // another session: dropped
	c.dispatch(pkt, 0, DataHeaderLen+6)
	PutDataHeader(pkt, c.ourTID+1, uint16(c.ourSID.Load())) // another tunnel: dropped
	c.dispatch(pkt, 0, DataHeaderLen+6)
	if len(frames) != 1 || string(frames[0]) != "\xff\x03\x00\x21ip" {
		t.Fatalf("OnData got %q, want one PPP frame", frames)
	}
}
