package l2tp

import (
	"encoding/binary"
	"errors"
)

// The L2TP header (RFC 2661 section 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|T|L|x|x|S|x|O|P|x|x|x|x|  Ver  |          Length (opt)         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Tunnel ID           |           Session ID          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|             Ns (opt)          |             Nr (opt)          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|      Offset Size (opt)        |    Offset pad... (opt)
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

const (
	ControlHeaderLen = 12 // T,L,S set: flags, length, tunnel, session, Ns, Nr
	DataHeaderLen    = 6  // no L, S, O bits: flags, tunnel, session
)

const (
	flagT       = 0x8000
	flagL       = 0x4000
	flagS       = 0x0800
	flagO       = 0x0200
	flagP       = 0x0100
	versionMask = 0x000f
	version2    = 2
)

var (
	ErrShort   = errors.New("l2tp: packet too short")
	ErrVersion = errors.New("l2tp: not L2TP version 2")
	ErrLength  = errors.New("l2tp: bad length field")
	ErrFlags   = errors.New("l2tp: bad header flags") // e.g. control message without L or S bit (3.1), offset past end
)

// Header is a parsed L2TPv2 header.
type Header struct {
	Control    bool   // T bit
	HasLength  bool   // L bit
	HasSeq     bool   // S bit
	HasOffset  bool   // O bit
	Priority   bool   // P bit
	Length     uint16 // when HasLength
	TunnelID   uint16
	SessionID  uint16
	Ns, Nr     uint16 // when HasSeq
	OffsetSize uint16 // when HasOffset
}

// ParseHeader parses the header at the start of b and returns it with the
// offset of the payload (after any offset padding). When L is set the
// payload ends at Length; callers use b[off:end] where end is returned too.
//
// It neither allocates nor panics: it runs once per data packet.
func ParseHeader(b []byte) (h Header, off, end int, err error) {
	if len(b) < 2 {
		return h, 0, 0, ErrShort
	}
	f := binary.BigEndian.Uint16(b)
	// 3.1: packets with an unknown Ver field MUST be discarded; Ver 3 is
	// L2TPv3 (RFC 3931), Ver 1 is L2F.
	if f&versionMask != version2 {
		return h, 0, 0, ErrVersion
	}
	h.Control = f&flagT != 0
	h.HasLength = f&flagL != 0
	h.HasSeq = f&flagS != 0
	h.HasOffset = f&flagO != 0
	h.Priority = f&flagP != 0
	// 3.1: control messages MUST have L and S set and O clear. The P bit
	// MUST be 0 on them too, but it changes nothing here, so it is only
	// reported; the reserved x bits are ignored on receipt.
	if h.Control && (!h.HasLength || !h.HasSeq || h.HasOffset) {
		return h, 0, 0, ErrFlags
	}
	n := 6
	if h.HasLength {
		n += 2
	}
	if h.HasSeq {
		n += 4
	}
	if h.HasOffset {
		n += 2
	}
	if len(b) < n {
		return h, 0, 0, ErrShort
	}
	p := 2
	if h.HasLength {
		h.Length = binary.BigEndian.Uint16(b[p:])
		p += 2
	}
	h.TunnelID = binary.BigEndian.Uint16(b[p:])
	h.SessionID = binary.BigEndian.Uint16(b[p+2:])
	p += 4
	if h.HasSeq {
		h.Ns = binary.BigEndian.Uint16(b[p:])
		h.Nr = binary.BigEndian.Uint16(b[p+2:])
		p += 4
	}
	if h.HasOffset {
		h.OffsetSize = binary.BigEndian.Uint16(b[p:])
		p += 2
	}
	end = len(b)
	if h.HasLength {
		// 3.1: Length is the total length of the message, header included.
		if int(h.Length) < p || int(h.Length) > len(b) {
			return h, 0, 0, ErrLength
		}
		end = int(h.Length)
	}
	// 3.1: Offset Size counts the bytes past the header at which the
	// payload starts.
	off = p + int(h.OffsetSize)
	if off > end {
		return h, 0, 0, ErrFlags
	}
	return h, off, end, nil
}

// PutDataHeader writes a 6-byte data header (version 2, no L/S/O bits) at b[0:6].
func PutDataHeader(b []byte, tunnelID, sessionID uint16) {
	_ = b[5]
	b[0] = 0
	b[1] = version2
	binary.BigEndian.PutUint16(b[2:], tunnelID)
	binary.BigEndian.PutUint16(b[4:], sessionID)
}

// AppendControl appends a control message header (T, L, S bits, version 2,
// length filled in) followed by payload. The payload of a control message
// must be shorter than 65536-ControlHeaderLen bytes; AppendControl panics
// otherwise, as the Length field cannot hold it.
func AppendControl(b []byte, tunnelID, sessionID, ns, nr uint16, payload []byte) []byte {
	n := ControlHeaderLen + len(payload)
	if n > 0xffff {
		panic("l2tp: control message too long")
	}
	b = binary.BigEndian.AppendUint16(b, flagT|flagL|flagS|version2)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	b = binary.BigEndian.AppendUint16(b, tunnelID)
	b = binary.BigEndian.AppendUint16(b, sessionID)
	b = binary.BigEndian.AppendUint16(b, ns)
	b = binary.BigEndian.AppendUint16(b, nr)
	return append(b, payload...)
}

// SetNsNr rewrites Ns and Nr in a control frame built by AppendControl (used
// on retransmission).
func SetNsNr(frame []byte, ns, nr uint16) {
	_ = frame[11]
	binary.BigEndian.PutUint16(frame[8:], ns)
	binary.BigEndian.PutUint16(frame[10:], nr)
}
