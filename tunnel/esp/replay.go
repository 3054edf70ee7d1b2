package esp

// ReplayWindow is the size of the anti-replay window (RFC 4303 3.4.3): a
// packet is accepted if its sequence number is above every one seen so far,
// or one of the ReplayWindow numbers ending with the highest seen and not
// yet received.
const ReplayWindow = 1024

// The bitmap is a ring of 64-bit blocks indexed by seq/64, after RFC 6479:
// when the highest sequence number moves into a new block, the blocks it
// enters are cleared whole, so no per-bit shifting happens. The ring holds
// twice the window so that the block holding the oldest number still in
// the window is never the one being cleared.
const (
	ringBlocks = 2 * ReplayWindow / 64
	ringMask   = ringBlocks - 1
)

// window is the receive side's anti-replay state. It is not safe for
// concurrent use: Open runs on one goroutine per SA.
type window struct {
	top  uint32 // highest sequence number accepted; 0 before the first
	ring [ringBlocks]uint64
}

// check reports whether seq may be accepted: it is new and not too old.
// It changes nothing: the window moves only for packets whose ICV is
// verified (update).
func (w *window) check(seq uint32) bool {
	switch {
	case seq == 0:
		// The first packet has number 1 (RFC 4303 3.3.3): 0 is never sent.
		return false
	case seq > w.top:
		return true
	case w.top-seq >= ReplayWindow:
		return false
	}
	return w.ring[(seq>>6)&ringMask]&(1<<(seq&63)) == 0
}

// update records seq, which check accepted and whose packet is authentic.
func (w *window) update(seq uint32) {
	if seq > w.top {
		cur, next := w.top>>6, seq>>6
		if next-cur >= ringBlocks {
			clear(w.ring[:])
		} else {
			for b := cur + 1; b <= next; b++ {
				w.ring[b&ringMask] = 0
			}
		}
		w.top = seq
	}
	w.ring[(seq>>6)&ringMask] |= 1 << (seq & 63)
}
