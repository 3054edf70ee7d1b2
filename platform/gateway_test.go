package platform

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// A /proc/net/route as Linux prints it: a default route via 192.168.1.1
// on eth0, a second one via 10.0.0.1 (metric 200), and a link route.
const procRoute = `Iface	Destination	Gateway 	Flags	RefCnt	Use	Metric	Mask		MTU	Window	IRTT
eth0	00000000	0101A8C0	0003	0	0	100	00000000	0	0	0
wlan0	00000000	0100000A	0003	0	0	200	00000000	0	0	0
eth0	0001A8C0	00000000	0001	0	0	100	00FFFFFF	0	0	0
`

func TestParseProcRoute(t *testing.T) {
	got, err := parseProcRoute(strings.NewReader(procRoute))
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Addr{netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("10.0.0.1")}
	if !slices.Equal(got, want) {
		t.Errorf("gateways %v, want %v", got, want)
	}
	if _, err := parseProcRoute(strings.NewReader("eth0 00000000 zz 0003\n")); err == nil {
		t.Error("a bad gateway field parsed")
	}
}
