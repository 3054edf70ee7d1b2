package platform

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// The network watch of macOS and Windows, the parts that need neither:
// which routing messages and notifications count as a change, and the
// path to the server from each system's own answer. No GOOS suffix, so
// that the tests run everywhere; netwatch_darwin.go and
// netwatch_windows.go do the system calls. None of it has run on macOS or
// Windows: compiled and tested with fakes and hand-made messages only.

// Routing socket messages of macOS (net/route.h), little-endian on
// every Mac Go supports (amd64, arm64). Every message starts with
// rtm_msglen (u16), rtm_version (u8), rtm_type (u8); a route message
// (rt_msghdr) has rtm_index (u16) and then, aligned, rtm_flags (int32)
// at offset 8.
const (
	darwinRTMVersion  = 5
	darwinRTMAdd      = 0x1
	darwinRTMDelete   = 0x2
	darwinRTMChange   = 0x3
	darwinRTMNewAddr  = 0xc
	darwinRTMDelAddr  = 0xd
	darwinRTMIfInfo   = 0xe
	darwinRTMIfInfo2  = 0x12
	darwinRTFLLInfo   = 0x400   // an ARP or neighbour entry
	darwinRTFWasClone = 0x20000 // cloned from a cloning route (per-host cache)
)

// darwinRouteMsgsChange reports whether a read from a routing socket
// (one message or more) holds a change worth looking again for: an
// interface's state, an address added or removed, or a route added,
// removed or changed, except the neighbour entries and per-host clones
// macOS adds and drops all the time. Malformed input is no change.
func darwinRouteMsgsChange(b []byte) bool {
	for len(b) >= 4 {
		n := int(binary.LittleEndian.Uint16(b))
		if n < 4 || n > len(b) {
			return false
		}
		m := b[:n]
		b = b[n:]
		if m[2] != darwinRTMVersion {
			continue
		}
		switch m[3] {
		case darwinRTMIfInfo, darwinRTMIfInfo2, darwinRTMNewAddr, darwinRTMDelAddr:
			return true
		case darwinRTMAdd, darwinRTMDelete, darwinRTMChange:
			if len(m) < 12 {
				continue
			}
			flags := binary.LittleEndian.Uint32(m[8:])
			if flags&(darwinRTFLLInfo|darwinRTFWasClone) == 0 {
				return true
			}
		}
	}
	return false
}

// pathWords describes a path as PathTo does on every system: "dev IFACE"
// or "dev IFACE via GATEWAY".
func pathWords(dev string, gw netip.Addr) string {
	if gw.IsValid() {
		return "dev " + dev + " via " + gw.String()
	}
	return "dev " + dev
}

// darwinPathTo is PathTo of macOS: "route -n get DST"; "" when no route
// covers dst ("not in table").
func darwinPathTo(run Runner, dst netip.Addr) (string, error) {
	if !dst.Is4() {
		return "", fmt.Errorf("platform: path to %v: IPv4 only", dst)
	}
	out, err := runDarwinRoute(run, cmd("route", "-n", "get", dst.String()))
	if err != nil {
		// ESRCH: no route covers dst ("No such process" from the
		// routing socket; "not in table" in route's own words).
		var ce *CommandError
		if errors.As(err, &ce) && (strings.Contains(ce.Output, "not in table") || strings.Contains(ce.Output, "No such process")) {
			return "", nil
		}
		return "", err
	}
	gw, dev, err := parseDarwinRouteGet(out)
	if err != nil {
		return "", err
	}
	return pathWords(dev, gw), nil
}

// windowsPathTo is PathTo of Windows: PowerShell's Find-NetRoute, as the
// Router asks it for the server's host route; "" when it finds none.
func windowsPathTo(run Runner, dst netip.Addr) (string, error) {
	if !dst.Is4() {
		return "", fmt.Errorf("platform: path to %v: IPv4 only", dst)
	}
	out, err := run.Run(cmd(windowsFindRoute(dst)...))
	if err != nil {
		return "", err
	}
	if len(strings.TrimSpace(strings.TrimPrefix(string(out), "\xef\xbb\xbf"))) == 0 {
		return "", nil
	}
	_, alias, gw, err := parseFindNetRoute(out)
	if err != nil {
		return "", err
	}
	return pathWords(alias, gw), nil
}

// Windows notifications (MIB_NOTIFICATION_TYPE, netioapi.h).
const (
	winMibInitialNotification = 3
	winAFInet                 = 2
)

// winNotifyChange reports whether an IP Helper notification (route,
// unicast address or IP interface) is a change worth looking again for:
// IPv4 only, as the tunnel and the path to the server are, and not the
// initial notification a registration may bring.
func winNotifyChange(notificationType uint32, family uint16) bool {
	return notificationType != winMibInitialNotification && family == winAFInet
}
