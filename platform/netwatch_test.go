package platform

import (
	"net/netip"
	"strings"
	"testing"
)

// A /proc/net/route as a full tunnel leaves it: the default route via the
// LAN's gateway, the two halves through corridor0, and the host route to
// the VPN server via the gateway.
const procRouteFullTunnel = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	0100A8C0	0003	0	0	100	00000000	0	0	0
eth0	0000A8C0	00000000	0001	0	0	100	00FFFFFF	0	0	0
corridor0	00000000	00000000	0001	0	0	0	00000080	0	0	0
corridor0	00000080	00000000	0001	0	0	0	00000080	0	0	0
eth0	0A7100CB	0100A8C0	0007	0	0	0	FFFFFFFF	0	0	0
wlan0	00000000	0101A8C0	0003	0	0	600	00000000	0	0	0
eth1	0000000A	00000000	0000	0	0	0	000000FF	0	0	0
`

func TestPathFromProcRoute(t *testing.T) {
	tests := []struct {
		dst, want string
	}{
		{"203.0.113.10", "dev eth0 via 192.168.0.1"}, // the server's host route
		{"198.51.100.7", "dev corridor0"},            // another address: through the tunnel
		{"192.168.0.20", "dev eth0"},                 // the LAN, no gateway
		{"10.1.2.3", "dev corridor0"},                // eth1's route is not up
	}
	for _, tt := range tests {
		got, err := pathFromProcRoute(strings.NewReader(procRouteFullTunnel), netip.MustParseAddr(tt.dst))
		if err != nil || got != tt.want {
			t.Errorf("path to %s = %q, %v; want %q", tt.dst, got, err, tt.want)
		}
	}
	// Two default routes: the lower metric wins (eth0 100 before wlan0 600).
	two := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
		"wlan0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n" +
		"eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
	if got, _ := pathFromProcRoute(strings.NewReader(two), netip.MustParseAddr("8.8.8.8")); got != "dev eth0 via 192.168.0.1" {
		t.Errorf("two defaults: %q", got)
	}
	// No route at all: the network is gone.
	if got, err := pathFromProcRoute(strings.NewReader("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"), netip.MustParseAddr("8.8.8.8")); got != "" || err != nil {
		t.Errorf("no routes: %q %v", got, err)
	}
	if _, err := pathFromProcRoute(strings.NewReader("eth0\tXYZ\t0\t1\t0\t0\t0\t0\n"), netip.MustParseAddr("8.8.8.8")); err == nil {
		t.Error("a garbled line was accepted")
	}
}
