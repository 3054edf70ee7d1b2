package platformtest_test

import (
	"bytes"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/platform"
	"github.com/corridorvpn/corridor/platform/platformtest"
)

// device is the method set the data path uses; both the real device and the
// fake must have it.
type device interface {
	Read(bufs [][]byte, sizes []int, offset int) (int, error)
	Write(bufs [][]byte, offset int) (int, error)
	BatchSize() int
	Close() error
}

var (
	_ device = (*platform.TUN)(nil)
	_ device = (*platformtest.ChannelTUN)(nil)
)

func newBufs(n, size int) ([][]byte, []int) {
	bufs := make([][]byte, n)
	for i := range bufs {
		bufs[i] = make([]byte, size)
	}
	return bufs, make([]int, n)
}

func TestReadHonoursOffsetAndBatches(t *testing.T) {
	c := platformtest.NewChannelTUN()
	defer c.Close()
	pkts := [][]byte{[]byte("one"), []byte("second"), []byte("third!!")}
	for _, p := range pkts {
		c.Inbound <- p
	}
	const off = 16
	bufs, sizes := newBufs(8, off+100)
	for i := range bufs {
		for j := range off {
			bufs[i][j] = 0xAA
		}
	}
	n, err := c.Read(bufs, sizes, off)
	if err != nil || n != len(pkts) {
		t.Fatalf("Read = %d, %v; want %d packets at once", n, err, len(pkts))
	}
	for i, p := range pkts {
		if got := bufs[i][off : off+sizes[i]]; !bytes.Equal(got, p) {
			t.Errorf("packet %d = %q, want %q", i, got, p)
		}
		if !bytes.Equal(bufs[i][:off], bytes.Repeat([]byte{0xAA}, off)) {
			t.Errorf("packet %d: headroom before offset was written", i)
		}
	}
	// The copy is the fake's own: changing the sent slice changes nothing.
	pkts[0][0] = 'X'
	if bufs[0][off] != 'o' {
		t.Error("Read aliased the Inbound slice instead of copying")
	}
}

func TestReadBatchLimitedByBufs(t *testing.T) {
	c := platformtest.NewChannelTUN()
	defer c.Close()
	for i := range 5 {
		c.Inbound <- []byte{byte(i)}
	}
	bufs, sizes := newBufs(2, 10)
	for want := 0; want < 5; {
		n, err := c.Read(bufs, sizes, 0)
		if err != nil {
			t.Fatal(err)
		}
		if exp := min(2, 5-want); n != exp {
			t.Fatalf("Read = %d packets, want %d", n, exp)
		}
		for i := range n {
			if bufs[i][0] != byte(want) || sizes[i] != 1 {
				t.Errorf("packet %d = %v (size %d), want [%d]", want, bufs[i][0], sizes[i], want)
			}
			want++
		}
	}
}

func TestReadBlocksForFirstPacket(t *testing.T) {
	c := platformtest.NewChannelTUN()
	defer c.Close()
	got := make(chan int)
	go func() {
		bufs, sizes := newBufs(4, 64)
		n, err := c.Read(bufs, sizes, 4)
		if err != nil {
			t.Error(err)
		}
		got <- n
	}()
	select {
	case n := <-got:
		t.Fatalf("Read returned %d with nothing queued", n)
	case <-time.After(20 * time.Millisecond):
	}
	c.Inbound <- []byte("late")
	select {
	case n := <-got:
		if n != 1 {
			t.Errorf("Read = %d, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Read did not return after a packet arrived")
	}
}

func TestReadTooLarge(t *testing.T) {
	c := platformtest.NewChannelTUN()
	defer c.Close()
	c.Inbound <- []byte("fits")
	c.Inbound <- make([]byte, 100)
	bufs, sizes := newBufs(4, 20)
	n, err := c.Read(bufs, sizes, 10)
	if n != 1 || err == nil {
		t.Errorf("Read = %d, %v; want the first packet and an error for the second", n, err)
	}
}

func TestWriteCopiesFromOffset(t *testing.T) {
	c := platformtest.NewChannelTUN()
	defer c.Close()
	off := platform.MinWriteOffset + 6
	a := append(make([]byte, off), "alpha"...)
	b := append(make([]byte, off), "beta"...)
	n, err := c.Write([][]byte{a, b}, off)
	if n != 2 || err != nil {
		t.Fatalf("Write = %d, %v; want 2", n, err)
	}
	a[off] = 'X'
	for _, want := range []string{"alpha", "beta"} {
		if got := <-c.Outbound; string(got) != want {
			t.Errorf("Outbound = %q, want %q", got, want)
		}
	}
	if _, err := c.Write([][]byte{a}, platform.MinWriteOffset-1); err == nil {
		t.Errorf("Write below MinWriteOffset succeeded; the Linux device refuses it")
	}
}

func TestCloseUnblocksAndIsIdempotent(t *testing.T) {
	c := platformtest.NewChannelTUN()
	c.Batch = 1
	if c.BatchSize() != 1 {
		t.Errorf("BatchSize = %d, want 1", c.BatchSize())
	}
	readErr := make(chan error)
	go func() {
		bufs, sizes := newBufs(1, 64)
		_, err := c.Read(bufs, sizes, 0)
		readErr <- err
	}()
	// Fill Outbound so a Write blocks too.
	pkt := make([]byte, platform.MinWriteOffset+1)
	for range cap(c.Outbound) {
		if _, err := c.Write([][]byte{pkt}, platform.MinWriteOffset); err != nil {
			t.Fatal(err)
		}
	}
	writeErr := make(chan error)
	go func() {
		_, err := c.Write([][]byte{pkt}, platform.MinWriteOffset)
		writeErr <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for what, ch := range map[string]chan error{"Read": readErr, "Write": writeErr} {
		select {
		case err := <-ch:
			if !errors.Is(err, os.ErrClosed) {
				t.Errorf("blocked %s after Close: %v, want os.ErrClosed", what, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("blocked %s did not return after Close", what)
		}
	}
	// Even with packets queued, a closed device reads nothing.
	c2 := platformtest.NewChannelTUN()
	c2.Inbound <- []byte("queued")
	c2.Close()
	bufs, sizes := newBufs(1, 64)
	if _, err := c2.Read(bufs, sizes, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close: %v, want os.ErrClosed", err)
	}
}

func TestClosedInboundEndsReads(t *testing.T) {
	c := platformtest.NewChannelTUN()
	c.Inbound <- []byte("last")
	close(c.Inbound)
	bufs, sizes := newBufs(4, 64)
	if n, err := c.Read(bufs, sizes, 0); n != 1 || err != nil {
		t.Errorf("Read = %d, %v; want the queued packet", n, err)
	}
	if _, err := c.Read(bufs, sizes, 0); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read from closed Inbound: %v, want os.ErrClosed", err)
	}
}
