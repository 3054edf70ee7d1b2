package platform

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// This file plans a NetConfig for macOS: route(8) for routes, the dynamic
// store through scutil(8) for DNS. It has no GOOS suffix so that its tests
// run everywhere; router_darwin.go only selects it.

// darwinItems lists, in order: the server's host route (when the tunnel
// covers the server), the routes through the device, the device's IPv6
// addresses and routes, the IPv6 block of a full tunnel without IPv6,
// DNS.
func darwinItems(c *NetConfig, env *routerEnv) ([]item, error) {
	for _, ch := range c.Interface {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9') {
			return nil, fmt.Errorf("platform: invalid macOS interface name %q", c.Interface)
		}
	}
	prefixes, needHost := c.tunnelRoutes()
	var items []item
	if needHost {
		items = append(items, darwinHostItem(c.Interface, c.Server, env))
	}
	for _, p := range prefixes {
		items = append(items, staticItem("route "+p.String(), p,
			[]Command{cmd("route", "-n", "add", "-net", p.String(), "-interface", c.Interface)},
			[]Command{cmd("route", "-n", "delete", "-net", p.String(), "-interface", c.Interface)}, true))
	}
	items = append(items, darwinIPv6Items(c)...)
	if c.block6() {
		items = append(items, darwinBlock6Items()...)
	}
	if len(c.DNS) > 0 {
		items = append(items, scutilItem(c))
	}
	return items, nil
}

// darwinIPv6Items put the session's IPv6 addresses on the utun device and
// route its IPv6 prefixes (with Default6, ::/1 and 8000::/1) through it:
//
//	ifconfig utun4 inet6 2001:db8:1::5/64 alias
//	route -n add -inet6 2001:db8:1::/64 -interface utun4
//
// undone by "ifconfig utun4 inet6 2001:db8:1::5 -alias" and "route -n
// delete -inet6 PREFIX -interface utun4". Both go with the device anyway.
// Compiled and tested with a fake runner only: never run on a Mac.
func darwinIPv6Items(c *NetConfig) []item {
	var items []item
	for _, a := range c.Addrs6 {
		items = append(items, staticItem("addr6 "+a.String(), netip.Prefix{},
			[]Command{cmd("ifconfig", c.Interface, "inet6", a.String(), "alias")},
			[]Command{cmd("ifconfig", c.Interface, "inet6", a.Addr().String(), "-alias")}, true))
	}
	for _, p := range c.tunnelRoutes6() {
		items = append(items, staticItem("route6 "+p.String(), p,
			[]Command{cmd("route", "-n", "add", "-inet6", p.String(), "-interface", c.Interface)},
			[]Command{cmd("route", "-n", "delete", "-inet6", p.String(), "-interface", c.Interface)}, true))
	}
	return items
}

// darwinBlock6Items make both IPv6 halves (ipv6Halves) unreachable while
// a full tunnel is up, as linuxBlock6Items do on Linux: the tunnel carries
// only IPv4, and IPv6 would otherwise leave outside it.
//
//	route -n add -inet6 ::/1 ::1 -reject
//
// A reject route (RTF_REJECT) makes a send fail at once with "host
// unreachable", so applications fall back to IPv4 without waiting; its
// gateway is the loopback address, which every Mac has. Each half is more
// specific than the IPv6 default route, which stays underneath; the routes
// of directly connected IPv6 networks are more specific still, so the
// local network stays reachable. The routes do not belong to the utun
// device and outlive it: they are journaled and undone by
//
//	route -n delete -inet6 ::/1 ::1
//
// (route(8) deletes by destination and mask). A route to the same half
// that someone else added ("File exists", another VPN's) is left to its
// owner. Compiled and tested with a fake runner only: never run on a Mac.
func darwinBlock6Items() []item {
	var items []item
	for _, p := range ipv6Halves {
		items = append(items, staticItem("unreachable6 "+p.String(), netip.Prefix{},
			[]Command{cmd("route", "-n", "add", "-inet6", p.String(), "::1", "-reject")},
			[]Command{cmd("route", "-n", "delete", "-inet6", p.String(), "::1")}, true))
	}
	return items
}

// routeSocketFailure is what macOS's route(8) writes to stderr when the
// kernel refuses a request ("route: writing to routing socket: File
// exists"). It is the only sign of the failure: route add, delete,
// change and get exit 0 whatever happened (route.c in Apple's
// network_cmds-741.100.2: main calls newroute and then exit(0); for a
// failed add it also prints "add net DEST: gateway GW: File exists" on
// stdout).
const routeSocketFailure = "route: writing to routing socket: "

// errRouteFailed is the cause of a route(8) failure told by its words.
var errRouteFailed = errors.New("route(8) reported a failure (its exit status is 0 either way)")

// runDarwinRoute runs a route(8) command and turns a failure that route
// reports only in words into a *CommandError (exit code 1, its stderr
// and stdout as Output), so that isExists, isGone and the Router see it.
func runDarwinRoute(run Runner, c Command) ([]byte, error) {
	c.stderrToo = true
	out, err := run.Run(c)
	if err != nil {
		return out, err
	}
	if bytes.Contains(out, []byte(routeSocketFailure)) {
		return nil, &CommandError{Args: c.Args, ExitCode: 1, Output: strings.TrimSpace(string(out)), Err: errRouteFailed}
	}
	return out, nil
}

// darwinHostItem pins the server to its present path, read from
// "route -n get SERVER".
func darwinHostItem(iface string, server netip.Addr, env *routerEnv) item {
	s := server.String()
	return item{key: "host " + s, host: server, plan: func() (*change, error) {
		out, err := env.exec(cmd("route", "-n", "get", s))
		if err != nil {
			return nil, fmt.Errorf("platform: finding the route to the server %v: %w", server, err)
		}
		gw, dev, err := parseDarwinRouteGet(out)
		if err != nil {
			return nil, fmt.Errorf("platform: finding the route to the server %v: %w", server, err)
		}
		if dev == iface {
			return nil, fmt.Errorf("platform: the route to the server %v already goes through %s", server, iface)
		}
		via := []string{"-interface", dev}
		if gw.IsValid() {
			via = []string{gw.String()}
		}
		return &change{
			do:   []Command{cmd(append([]string{"route", "-n", "add", "-host", s}, via...)...)},
			undo: journalEntry{Undo: []Command{cmd(append([]string{"route", "-n", "delete", "-host", s}, via...)...)}},
		}, nil
	}}
}

// parseDarwinRouteGet reads "route -n get ADDR":
//
//	   route to: 203.0.113.5
//	destination: default
//	       mask: default
//	    gateway: 192.168.1.1
//	  interface: en0
//	      flags: <UP,GATEWAY,DONE,STATIC,PRCLONING>
//
// A directly connected address has no gateway line, or a link-layer one
// ("link#4"); the gateway is then invalid.
func parseDarwinRouteGet(out []byte) (gw netip.Addr, dev string, err error) {
	for _, l := range lines(out) {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.TrimSpace(k) {
		case "gateway":
			if a, err := netip.ParseAddr(v); err == nil && a.Is4() {
				gw = a
			}
		case "interface":
			dev = v
		}
	}
	if dev == "" {
		return netip.Addr{}, "", fmt.Errorf("no interface in route -n get output %q", out)
	}
	return gw, dev, nil
}

// scutilDNSKey is the dynamic-store key of the DNS settings for iface: a
// service of its own, which configd merges into the resolver configuration
// and forgets when the key is removed.
func scutilDNSKey(iface string) string { return "State:/Network/Service/corridor-" + iface + "/DNS" }

// scutilItem publishes the DNS servers and search domains. A full tunnel
// adds the empty match domain "", which makes these servers answer every
// lookup; a split tunnel lists its domains as match domains, so that only
// those go to the VPN.
func scutilItem(c *NetConfig) item {
	var b strings.Builder
	b.WriteString("d.init\n")
	b.WriteString("d.add ServerAddresses *")
	for _, a := range c.DNS {
		b.WriteString(" " + a.String())
	}
	b.WriteString("\n")
	if len(c.Domains) > 0 {
		b.WriteString("d.add SearchDomains * " + strings.Join(c.Domains, " ") + "\n")
	}
	var match []string
	if c.FullTunnel {
		match = append(match, `""`)
	}
	match = append(match, c.Domains...)
	if len(match) > 0 {
		b.WriteString("d.add SupplementalMatchDomains * " + strings.Join(match, " ") + "\n")
	}
	b.WriteString("set " + scutilDNSKey(c.Interface) + "\nquit\n")
	return staticItem(dnsKey("scutil", c), netip.Prefix{},
		[]Command{{Args: []string{"scutil"}, Stdin: b.String()}},
		[]Command{{Args: []string{"scutil"}, Stdin: "remove " + scutilDNSKey(c.Interface) + "\nquit\n"}}, false)
}
