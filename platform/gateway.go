package platform

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
)

// parseProcRoute reads the IPv4 default gateways from the text of Linux's
// /proc/net/route (columns Iface Destination Gateway Flags ..., addresses
// in hex, in host byte order).
func parseProcRoute(r io.Reader) ([]netip.Addr, error) {
	sc := bufio.NewScanner(r)
	var out []netip.Addr
	first := true
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if first {
			first = false
			if len(f) > 0 && f[0] == "Iface" {
				continue
			}
		}
		if len(f) < 4 || f[1] != "00000000" {
			continue
		}
		gw, err := hex.DecodeString(f[2])
		if err != nil || len(gw) != 4 {
			return nil, fmt.Errorf("platform: /proc/net/route: bad gateway %q", f[2])
		}
		// The kernel prints the address as a native-endian u32; on every
		// Linux Corridor runs on (amd64, arm64) that is little-endian.
		v := binary.LittleEndian.Uint32(gw)
		var a [4]byte
		binary.BigEndian.PutUint32(a[:], v)
		if addr := netip.AddrFrom4(a); !addr.IsUnspecified() && !containsAddr(out, addr) {
			out = append(out, addr)
		}
	}
	return out, sc.Err()
}

func containsAddr(list []netip.Addr, a netip.Addr) bool {
	for _, b := range list {
		if a == b {
			return true
		}
	}
	return false
}

// LocalPrefixes lists the IPv4 networks of this machine's interfaces
// (loopback excluded): the local LAN, for telling whether a tunnel's
// subnet overlaps it.
func LocalPrefixes() ([]netip.Prefix, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []netip.Prefix
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagLoopback != 0 || ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipn.IP)
			if !ok || !ip.Unmap().Is4() {
				continue
			}
			ones, _ := ipn.Mask.Size()
			out = append(out, netip.PrefixFrom(ip.Unmap(), ones).Masked())
		}
	}
	return out, nil
}
