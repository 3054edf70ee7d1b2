package tunnel

import (
	"errors"
	"log/slog"
	"net"
	"os"
	"testing"

	"github.com/corridorvpn/corridor/tunnel/l2tp"
	"github.com/corridorvpn/corridor/tunnel/ppp"
)

const benchIPLen = 1400

// benchTunnel is a Tunnel whose data path is wired as after IPCP opened:
// outbound packets get the PPP and L2TP data headers written in place and
// go to tr; inbound ones are written to dev.
func benchTunnel(tr l2tp.Transport, dev Device) *Tunnel {
	t := &Tunnel{ipv4Open: func() bool { return true }, ipv6Open: func() bool { return false }, input: func(ppp.Protocol, []byte) {},
		log: slog.New(slog.DiscardHandler)}
	t.sendData = func(buf []byte, off int) error { // as l2tp.Conn.SendData
		off -= l2tp.DataHeaderLen
		l2tp.PutDataHeader(buf[off:], 0x1234, 0x5678)
		return tr.WritePacket(buf, off)
	}
	t.sendBatch = func(bufs [][]byte, offs []int) (int, error) { // as l2tp.Conn.SendDataBatch
		for i, b := range bufs {
			offs[i] -= l2tp.DataHeaderLen
			l2tp.PutDataHeader(b[offs[i]:], 0x1234, 0x5678)
		}
		if bw, ok := tr.(l2tp.BatchWriter); ok {
			return bw.WritePackets(bufs, offs)
		}
		for i, b := range bufs {
			if err := tr.WritePacket(b, offs[i]); err != nil {
				return i, err
			}
		}
		return len(bufs), nil
	}
	if dev != nil {
		t.dev.Store(&deviceBox{dev})
	}
	return t
}

// one is sendPacket's scratch (tests and benchmarks run it on one
// goroutine).
var one struct {
	bufs  [1][]byte
	sizes [1]int
	out   [][]byte
	offs  []int
}

// sendPacket sends the packet at buf[Headroom:Headroom+size] as a batch
// of one.
func (t *Tunnel) sendPacket(buf []byte, size int) {
	one.bufs[0], one.sizes[0] = buf, size
	one.out, one.offs = t.sendPackets(one.bufs[:], one.sizes[:], one.out[:0], one.offs[:0])
}

func ipv4Packet(b []byte) {
	b[0] = 0x45
	b[2], b[3] = byte(len(b)>>8), byte(len(b))
}

// BenchmarkEncapsulate: one 1400-byte IPv4 packet from the device buffer
// to a real UDP socket on loopback (PPP + L2TP headers in place, one
// sendto system call). The receiving socket is drained by a goroutine.
func BenchmarkEncapsulate(b *testing.B) {
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sink.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, err := sink.Read(buf); err != nil {
				return
			}
		}
	}()
	tr, err := DialUDP(b.Context(), sink.LocalAddr().String(), 0)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	t := benchTunnel(tr, nil)
	buf := make([]byte, BufSize)
	ipv4Packet(buf[Headroom : Headroom+benchIPLen])
	b.SetBytes(benchIPLen)
	b.ReportAllocs()
	for b.Loop() {
		t.sendPacket(buf, benchIPLen)
	}
	if st := t.Stats(); st.TxPackets == 0 || st.TxDropped != 0 {
		b.Fatalf("stats %+v", st)
	}
}

// discardTransport is an l2tp.Transport that counts and drops what it is
// given: encapsulation without the system call.
type discardTransport struct{ n, bytes int }

func (d *discardTransport) WritePacket(buf []byte, off int) error {
	d.n++
	d.bytes += len(buf) - off
	return nil
}
func (d *discardTransport) ReadPacket([]byte) (int, int, error) { select {} }
func (d *discardTransport) Close() error                        { return nil }

// BenchmarkEncapsulateNoSyscall: BenchmarkEncapsulate's per-packet work
// (PPP and L2TP headers written in place, counters) up to the transport,
// which drops the packet; the counterpart of BenchmarkDecapsulate.
func BenchmarkEncapsulateNoSyscall(b *testing.B) {
	tr := &discardTransport{}
	t := benchTunnel(tr, nil)
	buf := make([]byte, BufSize)
	ipv4Packet(buf[Headroom : Headroom+benchIPLen])
	b.SetBytes(benchIPLen)
	b.ReportAllocs()
	for b.Loop() {
		t.sendPacket(buf, benchIPLen)
	}
	if want := benchIPLen + ppp.FrameHeaderLen + l2tp.DataHeaderLen; tr.n == 0 || tr.bytes != tr.n*want {
		b.Fatalf("transport saw %d packets, %d bytes; want %d bytes each", tr.n, tr.bytes, want)
	}
}

// countDevice discards written packets, counting them.
type countDevice struct{ n, bytes int }

func (d *countDevice) Read([][]byte, []int, int) (int, error) { select {} }
func (d *countDevice) Write(bufs [][]byte, off int) (int, error) {
	for _, b := range bufs {
		d.n++
		d.bytes += len(b) - off
	}
	return len(bufs), nil
}
func (d *countDevice) BatchSize() int { return 1 }

// BenchmarkDecapsulate: one received L2TP data message's PPP frame parsed
// and its 1400-byte IPv4 payload handed to the device in place.
func BenchmarkDecapsulate(b *testing.B) {
	dev := &countDevice{}
	t := benchTunnel(nil, dev)
	buf := make([]byte, BufSize)
	off := l2tp.DataHeaderLen
	ppp.PutFrameHeader(buf[off:], ppp.ProtoIPv4)
	ipv4Packet(buf[off+ppp.FrameHeaderLen : off+ppp.FrameHeaderLen+benchIPLen])
	end := off + ppp.FrameHeaderLen + benchIPLen
	b.SetBytes(benchIPLen)
	b.ReportAllocs()
	for b.Loop() {
		t.onData(buf, off, end)
		t.flushRx()
	}
	if dev.n == 0 || dev.bytes != dev.n*benchIPLen {
		b.Fatalf("device saw %d packets, %d bytes", dev.n, dev.bytes)
	}
}

// TestDataPathFraming checks the bytes the data path produces: the PPP
// frame header and the L2TP data header in front of the IP packet, and the
// reverse on receive; and that non-IPv4 packets are dropped.
func TestDataPathFraming(t *testing.T) {
	var sent []byte
	tr := writeFunc(func(buf []byte, off int) error { sent = append([]byte(nil), buf[off:]...); return nil })
	dev := &countDevice{}
	tun := benchTunnel(tr, dev)
	buf := make([]byte, BufSize)
	pkt := buf[Headroom : Headroom+20]
	ipv4Packet(pkt)
	tun.sendPacket(buf, 20)
	want := append([]byte{0x00, 0x02, 0x12, 0x34, 0x56, 0x78, 0xff, 0x03, 0x00, 0x21}, pkt...)
	if string(sent) != string(want) {
		t.Fatalf("sent % x\nwant % x", sent, want)
	}
	buf[Headroom] = 0x60 // IPv6: not negotiated, dropped
	sent = nil
	tun.sendPacket(buf, 20)
	if sent != nil || tun.Stats().TxDropped != 1 {
		t.Fatalf("IPv6 packet sent or not counted: %x %+v", sent, tun.Stats())
	}
	// Receive: the frame just built, minus the L2TP header.
	rx := make([]byte, BufSize)
	n := copy(rx, want)
	tun.onData(rx, l2tp.DataHeaderLen, n)
	tun.flushRx()
	if dev.n != 1 || dev.bytes != 20 {
		t.Fatalf("device got %d packets %d bytes, want 1 of 20", dev.n, dev.bytes)
	}
}

// TestDataPathFramingIPv6: once IPV6CP is open, IPv6 packets go out as
// PPP protocol 0x0057 and come in to the device like IPv4, counted in the
// totals and in the IPv6 counters; before, they are dropped on the way
// out and handed to PPP on the way in (which drops them, or
// Protocol-Rejects them without IPv6).
func TestDataPathFramingIPv6(t *testing.T) {
	var sent []byte
	tr := writeFunc(func(buf []byte, off int) error { sent = append([]byte(nil), buf[off:]...); return nil })
	dev := &recordDevice{}
	tun := benchTunnel(tr, dev)
	var open6 bool
	tun.ipv6Open = func() bool { return open6 }
	var toPPP []ppp.Protocol
	tun.input = func(p ppp.Protocol, _ []byte) { toPPP = append(toPPP, p) }

	buf := make([]byte, BufSize)
	pkt := buf[Headroom : Headroom+48]
	for i := range pkt {
		pkt[i] = byte(i)
	}
	pkt[0] = 0x60
	tun.sendPacket(buf, len(pkt))
	if sent != nil || tun.Stats().TxDropped != 1 {
		t.Fatalf("IPv6 before IPV6CP: sent % x, stats %+v", sent, tun.Stats())
	}
	frame := append([]byte{0xff, 0x03, 0x00, 0x57}, pkt...)
	rx := make([]byte, BufSize)
	n := copy(rx[30:], frame)
	tun.onData(rx, 30, 30+n)
	tun.flushRx()
	if len(dev.writes) != 0 || len(toPPP) != 1 || toPPP[0] != ppp.ProtoIPv6 {
		t.Fatalf("IPv6 before IPV6CP: %d writes, to PPP %v", len(dev.writes), toPPP)
	}

	open6 = true
	tun.sendPacket(buf, len(pkt))
	want := append([]byte{0x00, 0x02, 0x12, 0x34, 0x56, 0x78}, frame...)
	if string(sent) != string(want) {
		t.Fatalf("sent % x\nwant % x", sent, want)
	}
	// An IPv4 packet and an IPv6 one in the same inbound batch.
	rx4 := make([]byte, BufSize)
	ppp.PutFrameHeader(rx4[40:], ppp.ProtoIPv4)
	ipv4Packet(rx4[44 : 44+20])
	tun.onData(rx4, 40, 64)
	tun.onData(rx, 30, 30+n)
	tun.flushRx()
	if len(dev.writes) != 1 || len(dev.writes[0]) != 2 || string(dev.writes[0][1]) != string(pkt) {
		t.Fatalf("device writes %x", dev.writes)
	}
	st := tun.Stats()
	if st.TxPackets != 1 || st.TxBytes != 48 || st.TxPackets6 != 1 || st.TxBytes6 != 48 ||
		st.RxPackets != 2 || st.RxBytes != 68 || st.RxPackets6 != 1 || st.RxBytes6 != 48 || st.TxDropped != 1 {
		t.Errorf("stats %+v", st)
	}
	// IPv4 is still counted in the totals only.
	ipv4Packet(buf[Headroom : Headroom+20])
	tun.sendPacket(buf, 20)
	if st := tun.Stats(); st.TxPackets != 2 || st.TxPackets6 != 1 {
		t.Errorf("stats after IPv4 %+v", st)
	}
}

type writeFunc func(buf []byte, off int) error

func (f writeFunc) ReadPacket([]byte) (int, int, error)   { select {} }
func (f writeFunc) WritePacket(buf []byte, off int) error { return f(buf, off) }
func (f writeFunc) Close() error                          { return nil }

// scriptDevice returns one scripted result per Read.
type scriptDevice struct {
	reads []func(bufs [][]byte, sizes []int, off int) (int, error)
}

func (d *scriptDevice) Read(bufs [][]byte, sizes []int, off int) (int, error) {
	if len(d.reads) == 0 {
		return 0, os.ErrClosed
	}
	r := d.reads[0]
	d.reads = d.reads[1:]
	return r(bufs, sizes, off)
}
func (d *scriptDevice) Write(bufs [][]byte, off int) (int, error) { return len(bufs), nil }
func (d *scriptDevice) BatchSize() int                            { return 2 }

// TestDeviceReadErrorIsNotFatal: one failed read (a super-packet the
// device could not split) does not stop the outbound path.
func TestDeviceReadErrorIsNotFatal(t *testing.T) {
	var sent int
	tun := benchTunnel(writeFunc(func([]byte, int) error { sent++; return nil }), nil)
	tun.done = make(chan struct{})
	dev := &scriptDevice{reads: []func([][]byte, []int, int) (int, error){
		func([][]byte, []int, int) (int, error) { return 0, errors.New("too many segments") },
		func(bufs [][]byte, sizes []int, off int) (int, error) {
			ipv4Packet(bufs[0][off : off+20])
			sizes[0] = 20
			return 1, nil
		},
	}}
	tun.RoutineReadFromDevice(dev) // returns at os.ErrClosed
	if sent != 1 {
		t.Fatalf("sent %d packets after a failed read, want 1", sent)
	}
}

// recordDevice keeps what each Write got.
type recordDevice struct {
	writes [][][]byte
}

func (d *recordDevice) Read([][]byte, []int, int) (int, error) { select {} }
func (d *recordDevice) Write(bufs [][]byte, off int) (int, error) {
	var w [][]byte
	for _, b := range bufs {
		w = append(w, append([]byte(nil), b[off:]...))
	}
	d.writes = append(d.writes, w)
	return len(bufs), nil
}
func (d *recordDevice) BatchSize() int { return 1 }

// TestFlushRxBatch: the IPv4 packets of one read reach the device in one
// Write, in order, whatever the headers in front of each (an L2TP header
// with a length field, an ESP header of another size), and the non-IPv4
// frames among them go to PPP instead.
func TestFlushRxBatch(t *testing.T) {
	dev := &recordDevice{}
	tun := benchTunnel(nil, dev)
	var toPPP int
	tun.input = func(ppp.Protocol, []byte) { toPPP++ }
	var want [][]byte
	for i, lead := range []int{30, 36, 50, 30, 41} {
		buf := make([]byte, 2048)
		ppp.PutFrameHeader(buf[lead:], ppp.ProtoIPv4)
		pkt := buf[lead+ppp.FrameHeaderLen : lead+ppp.FrameHeaderLen+40+i]
		ipv4Packet(pkt)
		pkt[10] = byte(i)
		want = append(want, append([]byte(nil), pkt...))
		tun.onData(buf, lead, lead+ppp.FrameHeaderLen+len(pkt))
		if i == 2 {
			lcp := make([]byte, 64)
			ppp.PutFrameHeader(lcp[20:], ppp.ProtoLCP)
			tun.onData(lcp, 20, 40)
		}
	}
	tun.flushRx()
	tun.flushRx() // nothing queued: no Write
	if len(dev.writes) != 1 || toPPP != 1 {
		t.Fatalf("%d writes, %d frames to PPP; want 1 and 1", len(dev.writes), toPPP)
	}
	for i, got := range dev.writes[0] {
		if string(got) != string(want[i]) {
			t.Errorf("packet %d: % x\nwant % x", i, got, want[i])
		}
	}
	if st := tun.Stats(); st.RxPackets != 5 || st.RxBytes != 40*5+10 || st.RxDropped != 0 {
		t.Errorf("stats %+v", st)
	}
}
