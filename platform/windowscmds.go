package platform

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// This file plans a NetConfig for Windows: netsh for routes and DNS
// servers, PowerShell for what netsh cannot tell or set (the route the
// server has now; the interface's DNS suffix). It has no GOOS suffix so that
// its tests run everywhere. The Router of Windows (router_windows.go) keeps
// this plan for routes, in the same netsh spelling, which is also what its
// journal stores, but executes it through the IP Helper API and sets DNS
// there too: see windowsnet.go.
//
// Finding the original route: Find-NetRoute (module NetTCPIP, Windows 8 and
// later) asks the stack which route and interface it would use for the
// server, the counterpart of "ip route get"; parsing "netsh interface ipv4
// show route" would mean redoing longest-prefix match and metrics by hand.
// Its answer is asked for as JSON, which does not depend on the console's
// language or width.
//
// Routes are added with store=active: they die with a reboot, like the
// journal's claims about them.

// windowsItems lists, in order: the server's host route (when the tunnel
// covers the server), the routes through the device, DNS (netsh and
// PowerShell). The Router of Windows uses windowsIPHelperItems
// (windowsnet.go), which plans routes the same way and DNS through the IP
// Helper API.
func windowsItems(c *NetConfig, env *routerEnv) ([]item, error) {
	return windowsItemsWith(c, env, windowsDNSItem)
}

// windowsItemsWith is windowsItems with the DNS item made by dnsItem.
func windowsItemsWith(c *NetConfig, env *routerEnv, dnsItem func(*NetConfig, *routerEnv) item) ([]item, error) {
	if strings.ContainsAny(c.Interface, "=") {
		return nil, fmt.Errorf("platform: invalid Windows interface name %q", c.Interface)
	}
	iface := c.Interface
	prefixes, needHost := c.tunnelRoutes()
	var items []item
	if needHost {
		items = append(items, windowsHostItem(iface, c.Server, env))
	}
	for _, p := range prefixes {
		spec := []string{"prefix=" + p.String(), "interface=" + iface, "store=active"}
		items = append(items, staticItem("route "+p.String(), p,
			[]Command{cmd(append([]string{"netsh", "interface", "ipv4", "add", "route"}, spec...)...)},
			[]Command{cmd(append([]string{"netsh", "interface", "ipv4", "delete", "route"}, spec...)...)}, true))
	}
	items = append(items, windowsIPv6Items(c)...)
	if c.block6() || c.Default6 {
		// The same two routes into the adapter block IPv6 (the tunnel
		// drops it while the session has no IPv6) and carry it (Default6):
		// kept under one key, a switch between the two leaves them in
		// place, with no moment for IPv6 to leave outside.
		items = append(items, windowsBlock6Items(iface)...)
	}
	if len(c.DNS) > 0 {
		items = append(items, dnsItem(c, env))
	}
	return items, nil
}

// windowsBlock6Items keep IPv6 from leaving outside a full tunnel, as
// linuxBlock6Items do on Linux: both halves of the IPv6 space
// (ipv6Halves) are routed into the Corridor adapter itself,
//
//	netsh interface ipv6 add route prefix=::/1 interface=NAME store=active
//
// where the tunnel, while the session carries no IPv6, drops them
// (tunnel.go: sendPacket); with the session's IPv6 default (Default6) the
// same routes carry IPv6 through the tunnel. Windows routes have no "unreachable" type; a route through
// the adapter needs no other interface, and it goes away with the adapter
// (Wintun removes it when the helper dies), like the IPv4 routes of the
// full tunnel. Each half is more specific than the IPv6 default route,
// which stays underneath; the routes of directly connected IPv6 networks
// are more specific still. Undone by the same line with "delete"; a route
// someone else added is left to its owner. When the adapter has no IPv6
// (IPv6 turned off on the machine, DisabledComponents), the block is
// skipped: see winNetRunner. Compiled and tested with fakes only: never
// run on Windows.
func windowsBlock6Items(iface string) []item {
	var items []item
	for _, p := range ipv6Halves {
		spec := []string{"prefix=" + p.String(), "interface=" + iface, "store=active"}
		it := staticItem("unreachable6 "+p.String(), netip.Prefix{},
			[]Command{cmd(append([]string{"netsh", "interface", "ipv6", "add", "route"}, spec...)...)},
			[]Command{cmd(append([]string{"netsh", "interface", "ipv6", "delete", "route"}, spec...)...)}, true)
		plan := it.plan
		it.plan = func() (*change, error) {
			ch, err := plan()
			if ch != nil {
				ch.noIPv6OK = true
			}
			return ch, err
		}
		items = append(items, it)
	}
	return items
}

// windowsIPv6Items give the adapter the session's IPv6 addresses and
// route its IPv6 prefixes (with Default6, ::/1 and 8000::/1) through it:
//
//	netsh interface ipv6 add address interface=NAME address=2001:db8:1::5/64 store=active
//	netsh interface ipv6 add route prefix=2001:db8:1::/64 interface=NAME store=active
//
// undone by "netsh interface ipv6 delete address interface=NAME
// address=2001:db8:1::5 store=active" and the route line with "delete".
// winNetRunner executes them through the IP Helper API. With Default6
// the halves are the IPv6 block's own routes into the adapter
// (windowsBlock6Items), which the tunnel now carries since IPV6CP is
// open. Compiled and tested with fakes only: never run on Windows.
func windowsIPv6Items(c *NetConfig) []item {
	var items []item
	for _, a := range c.Addrs6 {
		items = append(items, staticItem("addr6 "+a.String(), netip.Prefix{},
			[]Command{cmd("netsh", "interface", "ipv6", "add", "address", "interface="+c.Interface, "address="+a.String(), "store=active")},
			[]Command{cmd("netsh", "interface", "ipv6", "delete", "address", "interface="+c.Interface, "address="+a.Addr().String(), "store=active")}, true))
	}
	for _, p := range c.Routes6 { // the halves of Default6: windowsBlock6Items
		spec := []string{"prefix=" + p.String(), "interface=" + c.Interface, "store=active"}
		items = append(items, staticItem("route6 "+p.String(), p,
			[]Command{cmd(append([]string{"netsh", "interface", "ipv6", "add", "route"}, spec...)...)},
			[]Command{cmd(append([]string{"netsh", "interface", "ipv6", "delete", "route"}, spec...)...)}, true))
	}
	return items
}

// psQuote quotes s as a PowerShell single-quoted string. PowerShell takes
// the typographic single quotes (U+2018 to U+201B) for quotes too, so they
// are doubled like the ASCII one.
func psQuote(s string) string { return "'" + psQuoter.Replace(s) + "'" }

var psQuoter = strings.NewReplacer("'", "''", "\u2018", "\u2018\u2018", "\u2019", "\u2019\u2019", "\u201a", "\u201a\u201a", "\u201b", "\u201b\u201b")

func powershell(script string) []string {
	return []string{"powershell", "-NoProfile", "-NonInteractive", "-Command", script}
}

// windowsFindRoute is the query for the route the stack picks for server.
// NetRoute objects have a NextHop ("0.0.0.0" when on-link); the
// NetIPAddress object Find-NetRoute also returns has none and is dropped.
func windowsFindRoute(server netip.Addr) []string {
	return powershell("Find-NetRoute -RemoteIPAddress " + psQuote(server.String()) +
		" | Where-Object NextHop | Select-Object -First 1 InterfaceIndex,InterfaceAlias,NextHop | ConvertTo-Json -Compress")
}

func windowsHostItem(iface string, server netip.Addr, env *routerEnv) item {
	s := server.String()
	return item{key: "host " + s, host: server, plan: func() (*change, error) {
		out, err := env.exec(cmd(windowsFindRoute(server)...))
		if err != nil {
			return nil, fmt.Errorf("platform: finding the route to the server %v: %w", server, err)
		}
		idx, alias, gw, err := parseFindNetRoute(out)
		if err != nil {
			return nil, fmt.Errorf("platform: finding the route to the server %v: %w", server, err)
		}
		if alias == iface {
			return nil, fmt.Errorf("platform: the route to the server %v already goes through %s", server, iface)
		}
		spec := []string{"prefix=" + s + "/32", "interface=" + strconv.Itoa(idx)}
		if gw.IsValid() {
			spec = append(spec, "nexthop="+gw.String())
		}
		spec = append(spec, "store=active")
		return &change{
			do:   []Command{cmd(append([]string{"netsh", "interface", "ipv4", "add", "route"}, spec...)...)},
			undo: journalEntry{Undo: []Command{cmd(append([]string{"netsh", "interface", "ipv4", "delete", "route"}, spec...)...)}},
		}, nil
	}}
}

// parseFindNetRoute reads {"InterfaceIndex":12,"InterfaceAlias":"Ethernet",
// "NextHop":"192.168.1.1"}; an on-link route's NextHop 0.0.0.0 gives an
// invalid gateway.
func parseFindNetRoute(out []byte) (idx int, alias string, gw netip.Addr, err error) {
	out = bytes.TrimSpace(bytes.TrimPrefix(out, []byte("\xef\xbb\xbf")))
	var r struct {
		InterfaceIndex int
		InterfaceAlias string
		NextHop        string
	}
	if len(out) == 0 {
		return 0, "", gw, fmt.Errorf("no route")
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return 0, "", gw, fmt.Errorf("reading Find-NetRoute output %q: %w", out, err)
	}
	if r.InterfaceIndex <= 0 {
		return 0, "", gw, fmt.Errorf("no interface index in %q", out)
	}
	if gw, err = netip.ParseAddr(r.NextHop); err != nil || !gw.Is4() {
		return 0, "", netip.Addr{}, fmt.Errorf("bad next hop in %q", out)
	}
	if gw.IsUnspecified() {
		gw = netip.Addr{}
	}
	return r.InterfaceIndex, r.InterfaceAlias, gw, nil
}

// windowsDNSItem sets the interface's DNS servers (static, not registered
// in DNS) and, from the first search domain, its connection-specific
// suffix: Windows keeps one suffix per interface, and the global suffix
// list belongs to the machine's administrator. Undo returns the servers to
// "DHCP", the state of a fresh adapter, and resets the suffix.
//
// Windows asks the DNS servers of all interfaces, so a full tunnel does not
// keep lookups inside the tunnel by itself; the device's interface metric,
// set where the device is created, decides which servers are preferred.
func windowsDNSItem(c *NetConfig, env *routerEnv) item {
	iface := c.Interface
	var do []Command
	// netsh sets each family's servers apart ("interface ipv4|ipv6"); this
	// older planner (tests only: the Router uses windowsIPHelperDNSItem)
	// sets the IPv4 ones.
	var dns4 []netip.Addr
	for _, a := range c.DNS {
		if a.Is4() {
			dns4 = append(dns4, a)
		}
	}
	for i, a := range dns4 {
		if i == 0 {
			do = append(do, cmd("netsh", "interface", "ipv4", "set", "dnsservers", "name="+iface,
				"source=static", "address="+a.String(), "register=none", "validate=no"))
		} else {
			do = append(do, cmd("netsh", "interface", "ipv4", "add", "dnsservers", "name="+iface,
				"address="+a.String(), "index="+strconv.Itoa(i+1), "validate=no"))
		}
	}
	var undo []Command
	if len(c.Domains) > 0 {
		if len(c.Domains) > 1 {
			env.log.Warn("Windows keeps one DNS suffix per interface; using the first", "domains", c.Domains)
		}
		do = append(do, cmd(powershell("Set-DnsClient -InterfaceAlias "+psQuote(iface)+" -ConnectionSpecificSuffix "+psQuote(c.Domains[0]))...))
		undo = append(undo, cmd(powershell("Set-DnsClient -InterfaceAlias "+psQuote(iface)+" -ResetConnectionSpecificSuffix")...))
	}
	undo = append(undo, cmd("netsh", "interface", "ipv4", "set", "dnsservers", "name="+iface, "source=dhcp"))
	return staticItem(dnsKey("netsh", c), netip.Prefix{}, do, undo, false)
}
