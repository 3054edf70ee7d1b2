// Package platformtest provides in-memory stand-ins for the platform package,
// so the data path can be tested without privileges.
package platformtest

import (
	"fmt"
	"os"
	"sync"

	"github.com/corridorvpn/corridor/platform"
)

// DefaultBatchSize is the BatchSize of a new ChannelTUN, as on Linux.
const DefaultBatchSize = 128

// ChannelTUN is a fake TUN device with the Read, Write, BatchSize and Close
// methods of platform.TUN. The test plays the OS: it sends packets into the
// tunnel on Inbound and receives what the tunnel wrote on Outbound. Both
// channels are buffered (DefaultBatchSize packets), so a test can queue
// several packets and see them come back from one Read.
type ChannelTUN struct {
	// Inbound carries packets from the OS into the tunnel; Read returns
	// them, copied to the caller's buffers at the offset.
	Inbound chan []byte
	// Outbound carries copies of the packets the tunnel wrote.
	Outbound chan []byte
	// Batch is what BatchSize reports; set it before use.
	Batch int

	closeOnce sync.Once
	closed    chan struct{}
}

// NewChannelTUN returns an open ChannelTUN.
func NewChannelTUN() *ChannelTUN {
	return &ChannelTUN{
		Inbound:  make(chan []byte, DefaultBatchSize),
		Outbound: make(chan []byte, DefaultBatchSize),
		Batch:    DefaultBatchSize,
		closed:   make(chan struct{}),
	}
}

// Read blocks for the first packet on Inbound, then fills further buffers
// with the packets already waiting, without blocking, up to len(bufs). It
// returns os.ErrClosed once the device is closed (or Inbound is closed). A
// packet that does not fit its buffer after offset is dropped with an error,
// after the packets before it.
func (c *ChannelTUN) Read(bufs [][]byte, sizes []int, offset int) (int, error) {
	if len(bufs) == 0 {
		return 0, nil
	}
	select {
	case <-c.closed:
		return 0, os.ErrClosed
	default:
	}
	var p []byte
	var ok bool
	select {
	case <-c.closed:
		return 0, os.ErrClosed
	case p, ok = <-c.Inbound:
		if !ok {
			return 0, os.ErrClosed
		}
	}
	n := 0
	for {
		if offset > len(bufs[n]) || len(p) > len(bufs[n])-offset {
			return n, fmt.Errorf("platformtest: packet of %d bytes does not fit buffer %d (len %d, offset %d)", len(p), n, len(bufs[n]), offset)
		}
		sizes[n] = copy(bufs[n][offset:], p)
		n++
		if n == len(bufs) {
			return n, nil
		}
		select {
		case p, ok = <-c.Inbound:
			if !ok {
				return n, nil
			}
		default:
			return n, nil
		}
	}
}

// Write sends a copy of each bufs[i][offset:] on Outbound, blocking while
// Outbound is full, and returns the number of packets sent. Like the Linux
// device it rejects an offset below platform.MinWriteOffset. After Close it
// returns os.ErrClosed.
func (c *ChannelTUN) Write(bufs [][]byte, offset int) (int, error) {
	if offset < platform.MinWriteOffset {
		return 0, fmt.Errorf("platformtest: write offset %d below platform.MinWriteOffset (%d)", offset, platform.MinWriteOffset)
	}
	for i, b := range bufs {
		if offset > len(b) {
			return i, fmt.Errorf("platformtest: write offset %d beyond buffer %d (len %d)", offset, i, len(b))
		}
		p := append([]byte(nil), b[offset:]...)
		select {
		case <-c.closed:
			return i, os.ErrClosed
		default:
		}
		select {
		case <-c.closed:
			return i, os.ErrClosed
		case c.Outbound <- p:
		}
	}
	return len(bufs), nil
}

// BatchSize returns Batch (at least 1).
func (c *ChannelTUN) BatchSize() int { return max(c.Batch, 1) }

// Close closes the device; blocked Reads and Writes return os.ErrClosed. It
// is idempotent. Inbound and Outbound stay open.
func (c *ChannelTUN) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}
