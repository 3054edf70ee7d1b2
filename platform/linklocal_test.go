package platform

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

// TestLinkLocalCommand: the IPv6 link-local address from IPV6CP is added
// as a /64 without DAD on Linux, refused elsewhere and for anything but
// a link-local address.
func TestLinkLocalCommand(t *testing.T) {
	ll := netip.MustParseAddr("fe80::f349:cafe:fff3:49c8")
	c, err := linkLocalCommand("linux", "corridor0", ll)
	if got, want := strings.Join(c, " "), "ip -6 addr add fe80::f349:cafe:fff3:49c8/64 dev corridor0 nodad"; err != nil || got != want {
		t.Errorf("linux: %q, %v; want %q", got, err, want)
	}
	if _, err := linkLocalCommand("darwin", "utun4", ll); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("darwin: %v, want ErrUnsupported", err)
	}
	for _, a := range []string{"2001:db8::1", "192.168.30.10", "::ffff:169.254.1.1"} {
		if _, err := linkLocalCommand("linux", "corridor0", netip.MustParseAddr(a)); err == nil {
			t.Errorf("%s accepted", a)
		}
	}
}
