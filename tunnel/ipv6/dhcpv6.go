package ipv6

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// DHCPv6 message types (RFC 8415 section 7.3).
const (
	dhcpSolicit     = 1
	dhcpAdvertise   = 2
	dhcpRequest     = 3
	dhcpRenew       = 5
	dhcpRebind      = 6
	dhcpReply       = 7
	dhcpRelease     = 8
	dhcpInfoRequest = 11
)

// DHCPv6 options (RFC 8415 section 21, RFC 3646).
const (
	dhcpOptClientID    = 1
	dhcpOptServerID    = 2
	dhcpOptIANA        = 3
	dhcpOptIAAddr      = 5
	dhcpOptORO         = 6
	dhcpOptPreference  = 7
	dhcpOptElapsedTime = 8
	dhcpOptStatusCode  = 13
	dhcpOptDNSServers  = 23
	dhcpOptDomainList  = 24
)

// DHCPv6 status codes (RFC 8415 21.13).
const (
	dhcpStatusSuccess      = 0
	dhcpStatusNoAddrsAvail = 2
)

// dhcpMsg is a parsed DHCPv6 message (RFC 8415 section 8) with the
// options a client of IA_NA and Information-Request needs.
type dhcpMsg struct {
	Type       byte
	TxID       [3]byte
	ClientID   []byte
	ServerID   []byte
	Status     uint16 // the message's Status Code option; 0 (Success) if none
	Preference int    // the Preference option; 0 if none (RFC 8415 18.2.9)
	IAID       uint32 // of the first IA_NA
	HasIA      bool
	IAStatus   uint16   // the first IA_NA's Status Code; 0 if none
	Addrs      []iaAddr // its IA Address options with a valid lifetime above 0
	T1, T2     uint32
	DNS        []netip.Addr
	Domains    []string
}

type iaAddr struct {
	Addr             netip.Addr
	Preferred, Valid uint32
}

var errDHCPShort = errors.New("dhcpv6: message too short")

// parseDHCPv6 parses a client/server DHCPv6 message (RFC 8415 section 8,
// options section 21). Every option must fit in the message; the IA_NA
// (21.4) and IA Address (21.6) options are checked for their minimum
// lengths.
func parseDHCPv6(b []byte) (dhcpMsg, error) {
	if len(b) < 4 {
		return dhcpMsg{}, errDHCPShort
	}
	m := dhcpMsg{Type: b[0], TxID: [3]byte(b[1:4])}
	err := walkOptions(b[4:], func(code uint16, data []byte) error {
		switch code {
		case dhcpOptClientID:
			m.ClientID = data
		case dhcpOptServerID:
			m.ServerID = data
		case dhcpOptStatusCode:
			if len(data) < 2 {
				return errors.New("dhcpv6: short status code option (RFC 8415 21.13)")
			}
			m.Status = binary.BigEndian.Uint16(data)
		case dhcpOptPreference:
			if len(data) != 1 {
				return errors.New("dhcpv6: preference option length is not 1 (RFC 8415 21.8)")
			}
			m.Preference = int(data[0])
		case dhcpOptIANA:
			if m.HasIA {
				return nil // one IA_NA is all we ask for
			}
			return m.parseIANA(data)
		case dhcpOptDNSServers:
			// RFC 3646 3 (RFC 8415 21 carries it): a multiple of 16.
			if len(data)%16 != 0 {
				return errors.New("dhcpv6: DNS servers option length not a multiple of 16 (RFC 3646 3)")
			}
			for a := data; len(a) > 0; a = a[16:] {
				addr := netip.AddrFrom16([16]byte(a[:16]))
				if !addr.IsUnspecified() && !addr.IsMulticast() {
					m.DNS = append(m.DNS, addr)
				}
			}
		case dhcpOptDomainList:
			names, ok := parseNames(data, false)
			if !ok {
				return errors.New("dhcpv6: malformed domain search list (RFC 3646 4)")
			}
			m.Domains = names
		}
		return nil
	})
	if err != nil {
		return dhcpMsg{}, err
	}
	return m, nil
}

// parseIANA reads an IA_NA option's data (RFC 8415 21.4): IAID, T1, T2
// and the options inside it.
func (m *dhcpMsg) parseIANA(data []byte) error {
	if len(data) < 12 {
		return errors.New("dhcpv6: IA_NA option shorter than 12 octets (RFC 8415 21.4)")
	}
	m.HasIA = true
	m.IAID = binary.BigEndian.Uint32(data)
	m.T1, m.T2 = binary.BigEndian.Uint32(data[4:]), binary.BigEndian.Uint32(data[8:])
	return walkOptions(data[12:], func(code uint16, d []byte) error {
		switch code {
		case dhcpOptStatusCode:
			if len(d) < 2 {
				return errors.New("dhcpv6: short status code option (RFC 8415 21.13)")
			}
			m.IAStatus = binary.BigEndian.Uint16(d)
		case dhcpOptIAAddr:
			if len(d) < 24 {
				return errors.New("dhcpv6: IA Address option shorter than 24 octets (RFC 8415 21.6)")
			}
			a := iaAddr{Addr: netip.AddrFrom16([16]byte(d[:16])),
				Preferred: binary.BigEndian.Uint32(d[16:]), Valid: binary.BigEndian.Uint32(d[20:])}
			// RFC 8415 21.6: preferred above valid makes the address
			// ignored; 18.2.10.1: so does a valid lifetime of 0.
			if a.Preferred > a.Valid || a.Valid == 0 || !a.Addr.IsGlobalUnicast() {
				return nil
			}
			// Its own Status Code (NoAddrsAvail, say) is carried in
			// IAaddr-options; an address with a failure status is unusable.
			st := uint16(0)
			if err := walkOptions(d[24:], func(c uint16, sd []byte) error {
				if c == dhcpOptStatusCode && len(sd) >= 2 {
					st = binary.BigEndian.Uint16(sd)
				}
				return nil
			}); err != nil {
				return err
			}
			if st == dhcpStatusSuccess {
				m.Addrs = append(m.Addrs, a)
			}
		}
		return nil
	})
}

// walkOptions calls f for each option in b (RFC 8415 21.1: code, length,
// data); an option running past b is an error.
func walkOptions(b []byte, f func(code uint16, data []byte) error) error {
	for len(b) > 0 {
		if len(b) < 4 {
			return errors.New("dhcpv6: truncated option header (RFC 8415 21.1)")
		}
		code, n := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if 4+n > len(b) {
			return fmt.Errorf("dhcpv6: option %d runs past the message (RFC 8415 21.1)", code)
		}
		if err := f(code, b[4:4+n]); err != nil {
			return err
		}
		b = b[4+n:]
	}
	return nil
}

func appendOption(b []byte, code uint16, data []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, code)
	b = binary.BigEndian.AppendUint16(b, uint16(len(data)))
	return append(b, data...)
}

// duid is our client DUID: DUID-LL (RFC 8415 11.4, type 3) with hardware
// type 27, EUI-64 (IANA ARP hardware types), and our interface
// identifier as the link-layer address. A PPP link has no hardware
// address; the identifier IPV6CP negotiated is what names us on it.
func duid(iid uint64) []byte {
	b := []byte{0, 3, 0, 27}
	return binary.BigEndian.AppendUint64(b, iid)
}

// dhcpRequestMsg builds a client message of type typ (RFC 8415 section
// 18.2): Client Identifier, Elapsed Time, an Option Request for DNS
// servers and the domain search list, and, for Solicit and Request, an
// IA_NA with T1 and T2 0 (the server chooses, 21.4) holding the offered
// or bound address (Request, Renew, Rebind) or none (Solicit). serverID
// is sent when not nil (Request, Renew).
func dhcpRequestMsg(typ byte, txid [3]byte, clientID, serverID []byte, iaid uint32, offer []iaAddr, elapsed uint16) []byte {
	b := []byte{typ, txid[0], txid[1], txid[2]}
	b = appendOption(b, dhcpOptClientID, clientID)
	if serverID != nil {
		b = appendOption(b, dhcpOptServerID, serverID)
	}
	b = appendOption(b, dhcpOptElapsedTime, binary.BigEndian.AppendUint16(nil, elapsed))
	b = appendOption(b, dhcpOptORO, []byte{0, dhcpOptDNSServers, 0, dhcpOptDomainList})
	if typ != dhcpInfoRequest {
		ia := binary.BigEndian.AppendUint32(nil, iaid)
		ia = append(ia, make([]byte, 8)...) // T1, T2
		for _, a := range offer {
			d := a.Addr.AsSlice()
			d = binary.BigEndian.AppendUint32(d, 0) // lifetimes: the server's choice (21.6)
			d = binary.BigEndian.AppendUint32(d, 0)
			ia = appendOption(ia, dhcpOptIAAddr, d)
		}
		b = appendOption(b, dhcpOptIANA, ia)
	}
	return b
}

// dhcpReleaseMsg builds a Release (RFC 8415 18.2.7): Client and Server
// Identifier, Elapsed Time 0, and the IA_NA with the addresses given
// back (their lifetimes 0: the client no longer uses them). No Option
// Request: a Release asks for nothing.
func dhcpReleaseMsg(txid [3]byte, clientID, serverID []byte, iaid uint32, addrs []netip.Addr) []byte {
	b := []byte{dhcpRelease, txid[0], txid[1], txid[2]}
	b = appendOption(b, dhcpOptClientID, clientID)
	b = appendOption(b, dhcpOptServerID, serverID)
	b = appendOption(b, dhcpOptElapsedTime, []byte{0, 0})
	ia := binary.BigEndian.AppendUint32(nil, iaid)
	ia = append(ia, make([]byte, 8)...) // T1, T2
	for _, a := range addrs {
		ia = appendOption(ia, dhcpOptIAAddr, append(a.AsSlice(), make([]byte, 8)...))
	}
	return appendOption(b, dhcpOptIANA, ia)
}
