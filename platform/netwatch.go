package platform

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// ErrNoNetworkWatch: this system has no network change notifications in
// Corridor yet (the session then relies on its keepalives alone).
var ErrNoNetworkWatch = errors.New("platform: network change notifications are not supported on this system yet")

// pathFromProcRoute picks, from the text of Linux's /proc/net/route, the
// route the main table gives dst (longest prefix, then lowest metric;
// routes that are not up are skipped) and describes it as "dev IFACE" or
// "dev IFACE via GATEWAY"; "" when no route covers dst.
func pathFromProcRoute(r io.Reader, dst netip.Addr) (string, error) {
	if !dst.Is4() {
		return "", fmt.Errorf("platform: path to %v: IPv4 only", dst)
	}
	const rtfUp = 0x1
	sc := bufio.NewScanner(r)
	best, bestBits, bestMetric := "", -1, 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[0] == "Iface" {
			continue
		}
		dest, err1 := procAddr(f[1])
		gw, err2 := procAddr(f[2])
		flags, err3 := strconv.ParseUint(f[3], 16, 32)
		metric, err4 := strconv.Atoi(f[6])
		mask, err5 := procAddr(f[7])
		if err := errors.Join(err1, err2, err3, err4, err5); err != nil {
			return "", fmt.Errorf("platform: /proc/net/route: %w", err)
		}
		if flags&rtfUp == 0 {
			continue
		}
		bits := maskBits(mask)
		if bits < 0 {
			continue
		}
		pfx := netip.PrefixFrom(dest, bits)
		if !pfx.Contains(dst) {
			continue
		}
		if bits > bestBits || (bits == bestBits && metric < bestMetric) {
			best, bestBits, bestMetric = "dev "+f[0], bits, metric
			if !gw.IsUnspecified() {
				best += " via " + gw.String()
			}
		}
	}
	return best, sc.Err()
}

// procAddr reads an address of /proc/net/route: hex of a native-endian
// u32 (little-endian on every Linux Corridor runs on).
func procAddr(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("bad address %q", s)
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], binary.LittleEndian.Uint32(b))
	return netip.AddrFrom4(a), nil
}

// maskBits is the prefix length of a netmask; -1 if it is not one.
func maskBits(m netip.Addr) int {
	v := binary.BigEndian.Uint32(m.AsSlice())
	ones := 0
	for v&0x80000000 != 0 {
		ones++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return ones
}
