package ike

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Domain of Interpretation and situation (RFC 2407 4.2, 4.6.1).
const (
	doiIPsec           = 1
	sitIdentityOnly    = 1
	protoISAKMP        = 1 // RFC 2407 4.4.1
	protoESP           = 3
	transformKeyIKE    = 1 // RFC 2407 4.4.2
	maxProposals       = 32
	maxTransformsPerP  = 64
	maxAttrsPerTransfm = 32
)

// Attr is one SA attribute (RFC 2408 3.3). Basic attributes (AF=1) carry
// a 16-bit Value; variable ones carry Var, and Value holds Var read as a
// big-endian number when it fits in 8 bytes.
type Attr struct {
	Type  uint16
	Value uint64
	Var   []byte
}

// Transform is a Transform payload (RFC 2408 3.6).
type Transform struct {
	Num   uint8
	ID    uint8
	Attrs []Attr
}

// Attr returns the value of attribute t.
func (t *Transform) Attr(typ uint16) (uint64, bool) {
	for _, a := range t.Attrs {
		if a.Type == typ {
			return a.Value, true
		}
	}
	return 0, false
}

// Proposal is a Proposal payload with its transforms (RFC 2408 3.5).
type Proposal struct {
	Num        uint8
	Protocol   uint8
	SPI        []byte
	Transforms []Transform
}

// SA is the body of an SA payload of the IPsec DOI (RFC 2407 4.6.1).
type SA struct {
	Proposals []Proposal
}

// AppendAttr appends one attribute, basic when it fits.
func appendAttr(dst []byte, a Attr) []byte {
	if a.Var == nil && a.Value <= 0xffff {
		dst = binary.BigEndian.AppendUint16(dst, 0x8000|a.Type)
		return binary.BigEndian.AppendUint16(dst, uint16(a.Value))
	}
	v := a.Var
	if v == nil {
		v = binary.BigEndian.AppendUint32(nil, uint32(a.Value))
		if a.Value > 0xffffffff {
			v = binary.BigEndian.AppendUint64(nil, a.Value)
		}
	}
	dst = binary.BigEndian.AppendUint16(dst, a.Type&0x7fff)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(v)))
	return append(dst, v...)
}

// parseAttrs reads the attributes filling b (RFC 2408 3.3).
func parseAttrs(b []byte) ([]Attr, error) {
	var as []Attr
	for len(b) > 0 {
		if len(b) < 4 || len(as) >= maxAttrsPerTransfm {
			return nil, ErrAttribute
		}
		t := binary.BigEndian.Uint16(b)
		v := binary.BigEndian.Uint16(b[2:])
		if t&0x8000 != 0 {
			as = append(as, Attr{Type: t & 0x7fff, Value: uint64(v)})
			b = b[4:]
			continue
		}
		if int(v) > len(b)-4 {
			return nil, fmt.Errorf("%w: variable attribute %d of %d bytes, %d left", ErrAttribute, t, v, len(b)-4)
		}
		a := Attr{Type: t, Var: b[4 : 4+v]}
		if v <= 8 {
			for _, c := range a.Var {
				a.Value = a.Value<<8 | uint64(c)
			}
		}
		as = append(as, a)
		b = b[4+v:]
	}
	return as, nil
}

// Append encodes the SA payload body: DOI, situation, proposals.
func (sa *SA) Append(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, doiIPsec)
	dst = binary.BigEndian.AppendUint32(dst, sitIdentityOnly)
	for i, p := range sa.Proposals {
		start := len(dst)
		next := byte(PayloadNone)
		if i+1 < len(sa.Proposals) {
			next = byte(PayloadProposal)
		}
		dst = append(dst, next, 0, 0, 0, p.Num, p.Protocol, byte(len(p.SPI)), byte(len(p.Transforms)))
		dst = append(dst, p.SPI...)
		for j, t := range p.Transforms {
			ts := len(dst)
			tnext := byte(PayloadNone)
			if j+1 < len(p.Transforms) {
				tnext = byte(PayloadTransform)
			}
			dst = append(dst, tnext, 0, 0, 0, t.Num, t.ID, 0, 0)
			for _, a := range t.Attrs {
				dst = appendAttr(dst, a)
			}
			binary.BigEndian.PutUint16(dst[ts+2:], uint16(len(dst)-ts))
		}
		binary.BigEndian.PutUint16(dst[start+2:], uint16(len(dst)-start))
	}
	return dst
}

// ParseSA parses an SA payload body of the IPsec DOI.
func ParseSA(b []byte) (*SA, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: SA payload of %d bytes", ErrProposal, len(b))
	}
	// RFC 2407 4.6.1: only the IPsec DOI and SIT_IDENTITY_ONLY here.
	if doi := binary.BigEndian.Uint32(b); doi != doiIPsec {
		return nil, fmt.Errorf("%w: DOI %d", ErrProposal, doi)
	}
	b = b[8:]
	sa := &SA{}
	for next := PayloadProposal; next != PayloadNone; {
		if next != PayloadProposal || len(b) < 8 || len(sa.Proposals) >= maxProposals {
			return nil, fmt.Errorf("%w: proposal chain", ErrProposal)
		}
		n := int(binary.BigEndian.Uint16(b[2:]))
		if n < 8 || n > len(b) {
			return nil, fmt.Errorf("%w: proposal length %d", ErrProposal, n)
		}
		pb := b[:n]
		next = PayloadType(b[0])
		b = b[n:]
		p := Proposal{Num: pb[4], Protocol: pb[5]}
		spiLen, nt := int(pb[6]), int(pb[7])
		if 8+spiLen > len(pb) {
			return nil, fmt.Errorf("%w: SPI size %d", ErrProposal, spiLen)
		}
		p.SPI = pb[8 : 8+spiLen]
		tb := pb[8+spiLen:]
		for i := 0; i < nt; i++ {
			// RFC 2408 3.6: transforms follow each other with Next Payload 3,
			// the last with 0.
			if len(tb) < 8 || len(p.Transforms) >= maxTransformsPerP {
				return nil, fmt.Errorf("%w: transform %d of %d cut short", ErrProposal, i+1, nt)
			}
			tn := int(binary.BigEndian.Uint16(tb[2:]))
			if tn < 8 || tn > len(tb) {
				return nil, fmt.Errorf("%w: transform length %d", ErrProposal, tn)
			}
			last := PayloadType(tb[0]) == PayloadNone
			if last != (i == nt-1) {
				return nil, fmt.Errorf("%w: transform count %d disagrees with the chain", ErrProposal, nt)
			}
			attrs, err := parseAttrs(tb[8:tn])
			if err != nil {
				return nil, err
			}
			p.Transforms = append(p.Transforms, Transform{Num: tb[4], ID: tb[5], Attrs: attrs})
			tb = tb[tn:]
		}
		if len(tb) != 0 {
			return nil, fmt.Errorf("%w: %d bytes after the last transform", ErrProposal, len(tb))
		}
		sa.Proposals = append(sa.Proposals, p)
	}
	// RFC 2408 3.4: the SA payload holds exactly its proposals.
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last proposal", ErrProposal, len(b))
	}
	return sa, nil
}

// Identification types (RFC 2407 4.6.2.1).
const (
	IDIPv4Addr = 1
	IDFQDN     = 2
	IDUserFQDN = 3
	IDIPv6Addr = 5
)

// ID is an Identification payload body of the IPsec DOI (RFC 2407 4.6.2).
type ID struct {
	Type     uint8
	Protocol uint8
	Port     uint16
	Data     []byte
}

func (id ID) Append(dst []byte) []byte {
	dst = append(dst, id.Type, id.Protocol)
	dst = binary.BigEndian.AppendUint16(dst, id.Port)
	return append(dst, id.Data...)
}

// ParseID parses an Identification payload body.
func ParseID(b []byte) (ID, error) {
	if len(b) < 4 {
		return ID{}, fmt.Errorf("%w: ID of %d bytes", ErrPayload, len(b))
	}
	return ID{Type: b[0], Protocol: b[1], Port: binary.BigEndian.Uint16(b[2:]), Data: b[4:]}, nil
}

func (id ID) String() string {
	switch {
	case id.Type == IDIPv4Addr && len(id.Data) == 4:
		return fmt.Sprintf("%v (proto %d port %d)", netip.AddrFrom4([4]byte(id.Data)), id.Protocol, id.Port)
	case id.Type == IDFQDN || id.Type == IDUserFQDN || id.Type == IDKeyID:
		return fmt.Sprintf("%q", id.Data)
	case id.Type == IDDERASN1DN:
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(id.Data, &rdn); err == nil && len(rest) == 0 {
			var n pkix.Name
			n.FillFromRDNSequence(&rdn)
			return fmt.Sprintf("DN %q", n.String())
		}
	}
	return fmt.Sprintf("type %d % x", id.Type, id.Data)
}

// Notify is a Notification payload body (RFC 2408 3.14).
type Notify struct {
	Protocol uint8
	Type     NotifyType
	SPI      []byte
	Data     []byte
}

func (n Notify) Append(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, doiIPsec)
	dst = append(dst, n.Protocol, byte(len(n.SPI)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(n.Type))
	dst = append(dst, n.SPI...)
	return append(dst, n.Data...)
}

// ParseNotify parses a Notification payload body.
func ParseNotify(b []byte) (Notify, error) {
	if len(b) < 8 || 8+int(b[5]) > len(b) {
		return Notify{}, fmt.Errorf("%w: notification of %d bytes", ErrPayload, len(b))
	}
	spi := int(b[5])
	return Notify{Protocol: b[4], Type: NotifyType(binary.BigEndian.Uint16(b[6:])), SPI: b[8 : 8+spi], Data: b[8+spi:]}, nil
}

// Delete is a Delete payload body (RFC 2408 3.15).
type Delete struct {
	Protocol uint8
	SPIs     [][]byte
}

func (d Delete) Append(dst []byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, doiIPsec)
	size := 0
	if len(d.SPIs) > 0 {
		size = len(d.SPIs[0])
	}
	dst = append(dst, d.Protocol, byte(size))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(d.SPIs)))
	for _, s := range d.SPIs {
		dst = append(dst, s...)
	}
	return dst
}

// ParseDelete parses a Delete payload body.
func ParseDelete(b []byte) (Delete, error) {
	if len(b) < 8 {
		return Delete{}, fmt.Errorf("%w: delete of %d bytes", ErrPayload, len(b))
	}
	size, n := int(b[5]), int(binary.BigEndian.Uint16(b[6:]))
	if (size == 0 && n > 0) || size*n != len(b)-8 {
		return Delete{}, fmt.Errorf("%w: delete of %d SPIs of %d bytes in %d bytes", ErrPayload, n, size, len(b)-8)
	}
	d := Delete{Protocol: b[4]}
	for i := 0; i < n; i++ {
		d.SPIs = append(d.SPIs, b[8+i*size:8+(i+1)*size])
	}
	return d, nil
}

// appendNATOA encodes a NAT-OA payload body (RFC 3947 5.2) for addr.
func appendNATOA(dst []byte, addr netip.Addr) []byte {
	a := addr.As4()
	dst = append(dst, IDIPv4Addr, 0, 0, 0)
	return append(dst, a[:]...)
}
