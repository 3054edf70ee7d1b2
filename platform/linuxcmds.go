package platform

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
)

// This file plans a NetConfig for Linux: iproute2 for routes,
// systemd-resolved (resolvectl) or resolv.conf for DNS. It has no GOOS
// suffix so that its tests run everywhere; router_linux.go only selects it.

// linuxItems lists, in order: the server's host route (when the tunnel
// covers the server), the routes through the device, the device's IPv6
// addresses and IPv6 routes, the IPv6 block of a full tunnel without
// IPv6, DNS.
func linuxItems(c *NetConfig, env *routerEnv) ([]item, error) {
	if len(c.Interface) > 15 || strings.ContainsAny(c.Interface, " \t:") {
		return nil, fmt.Errorf("platform: invalid Linux interface name %q", c.Interface)
	}
	prefixes, needHost := c.tunnelRoutes()
	var items []item
	if needHost {
		items = append(items, linuxHostItem(c.Interface, c.Server, env))
	}
	for _, p := range prefixes {
		spec := []string{p.String(), "dev", c.Interface}
		items = append(items, staticItem("route "+p.String(), p,
			[]Command{cmd(slices.Concat([]string{"ip", "-4", "route", "add"}, spec)...)},
			[]Command{cmd(slices.Concat([]string{"ip", "-4", "route", "del"}, spec)...)}, true))
	}
	items = append(items, linuxIPv6Items(c)...)
	if c.block6() {
		if env.ipv6Available() {
			items = append(items, linuxBlock6Items()...)
		} else {
			env.log.Debug("IPv6 is disabled on this machine: nothing to block", "checked", env.inet6File)
		}
	}
	if len(c.DNS) > 0 {
		if env.linuxDNSBackend() == DNSResolved {
			items = append(items, resolvedItem(c))
		} else {
			items = append(items, resolvConfItem(c, env))
		}
	}
	return items, nil
}

// ipv6Halves are the two halves of the IPv6 space: a full tunnel makes
// them unreachable, since the tunnel carries only IPv4 and IPv6 would
// otherwise leave outside it. Each is more specific than an IPv6 default
// route, which stays in place underneath; the routes of directly connected
// IPv6 networks and link-local fe80::/64 are more specific still, so the
// local network stays reachable, as it does for IPv4.
var ipv6Halves = []netip.Prefix{
	netip.MustParsePrefix("::/1"),
	netip.MustParsePrefix("8000::/1"),
}

// block6Metric is the metric of the unreachable IPv6 routes: the lowest
// in use, so that they win over another route of the same prefix, while
// one of a different metric (another VPN's) can still coexist with them.
const block6Metric = "1"

// linuxBlock6Items make both IPv6 halves unreachable:
//
//	ip -6 route add unreachable ::/1 metric 1
//
// undone by "ip -6 route del unreachable ::/1 metric 1", which matches only
// that route (type, prefix and metric).
func linuxBlock6Items() []item {
	var items []item
	for _, p := range ipv6Halves {
		spec := []string{"unreachable", p.String(), "metric", block6Metric}
		it := staticItem("unreachable6 "+p.String(), netip.Prefix{},
			[]Command{cmd(slices.Concat([]string{"ip", "-6", "route", "add"}, spec)...)},
			[]Command{cmd(slices.Concat([]string{"ip", "-6", "route", "del"}, spec)...)}, true)
		plan := it.plan
		it.plan = func() (*change, error) {
			ch, err := plan()
			if ch != nil {
				ch.noIPv6OK = true
			}
			return ch, err
		}
		// When the session's IPv6 default replaces the block, the routes
		// through the device (metric 1024) are added first, beside the
		// unreachable ones (metric 1), which then go: IPv6 never finds
		// the way outside the tunnel open in between.
		it.removeLast = true
		items = append(items, it)
	}
	return items
}

// linuxIPv6Items put the session's IPv6 addresses on the device and route
// its IPv6 prefixes through it:
//
//	ip -6 addr add 2001:db8:1::5/64 dev corridor0 nodad noprefixroute
//	ip -6 route add 2001:db8:1::/64 dev corridor0
//	ip -6 route add ::/1 dev corridor0            (and 8000::/1: Default6)
//
// undone by "ip -6 addr del ADDR/LEN dev IFACE" and "ip -6 route del
// PREFIX dev IFACE". nodad: the interface identifier was negotiated by
// IPV6CP (RFC 5072 §4.1), and a tentative address could not be used for
// the second or so of duplicate address detection. noprefixroute: the
// on-link prefix is routed only when the configuration lists it (the
// L flag of the advertisement, RFC 4861 §4.6.2), as a route of its own,
// journaled. The device's routes and addresses go with the device, so
// their undo often finds them gone, which it tolerates.
func linuxIPv6Items(c *NetConfig) []item {
	var items []item
	for _, a := range c.Addrs6 {
		spec := []string{a.String(), "dev", c.Interface}
		items = append(items, staticItem("addr6 "+a.String(), netip.Prefix{},
			[]Command{cmd(slices.Concat([]string{"ip", "-6", "addr", "add"}, spec, []string{"nodad", "noprefixroute"})...)},
			[]Command{cmd(slices.Concat([]string{"ip", "-6", "addr", "del"}, spec)...)}, true))
	}
	for _, p := range c.tunnelRoutes6() {
		spec := []string{p.String(), "dev", c.Interface}
		items = append(items, staticItem("route6 "+p.String(), p,
			[]Command{cmd(slices.Concat([]string{"ip", "-6", "route", "add"}, spec)...)},
			[]Command{cmd(slices.Concat([]string{"ip", "-6", "route", "del"}, spec)...)}, true))
	}
	return items
}

// ipv6Available reports whether the kernel has IPv6 (/proc/net/if_inet6
// exists; booted with ipv6.disable=1 it does not, and "ip -6" fails with
// EAFNOSUPPORT).
func (e *routerEnv) ipv6Available() bool {
	_, err := os.Stat(e.inet6File)
	return err == nil
}

// staticItem is an item whose commands are known in advance.
func staticItem(key string, route netip.Prefix, do, undo []Command, existsOK bool) item {
	return item{key: key, route: route, plan: func() (*change, error) {
		return &change{do: do, undo: journalEntry{Undo: undo}, existsOK: existsOK}, nil
	}}
}

// linuxHostItem pins the server to the path the kernel picks for it now
// ("ip -4 route get"), before the routes through the device would capture it.
// "replace" rather than "add": a host route left by an earlier session of a
// crashed process must not make this one fail.
func linuxHostItem(iface string, server netip.Addr, env *routerEnv) item {
	return item{key: "host " + server.String(), host: server, plan: func() (*change, error) {
		out, err := env.exec(cmd("ip", "-4", "route", "get", server.String()))
		if err != nil {
			return nil, fmt.Errorf("platform: finding the route to the server %v: %w", server, err)
		}
		gw, dev, err := parseIPRouteGet(out)
		if errors.Is(err, errLocalRoute) {
			// The server is an address of this machine: the local table
			// comes before the routes we add, nothing to pin.
			return &change{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("platform: finding the route to the server %v: %w", server, err)
		}
		if dev == iface {
			return nil, fmt.Errorf("platform: the route to the server %v already goes through %s", server, iface)
		}
		spec := []string{server.String() + "/32"}
		if gw.IsValid() {
			spec = append(spec, "via", gw.String())
		}
		spec = append(spec, "dev", dev)
		return &change{
			do:   []Command{cmd(slices.Concat([]string{"ip", "-4", "route", "replace"}, spec)...)},
			undo: journalEntry{Undo: []Command{cmd(slices.Concat([]string{"ip", "-4", "route", "del"}, spec)...)}},
		}, nil
	}}
}

// errLocalRoute: "ip route get" says the address is one of this machine's.
var errLocalRoute = errors.New("route is of type local")

// parseIPRouteGet reads the first line of "ip -4 route get ADDR":
//
//	203.0.113.5 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0
//	192.0.2.7 dev eth0 src 192.0.2.2 uid 0
//
// and returns the gateway (invalid when the address is on the link) and the
// device.
func parseIPRouteGet(out []byte) (gw netip.Addr, dev string, err error) {
	line, _, _ := bytes.Cut(out, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return gw, "", fmt.Errorf("empty answer from ip route get")
	}
	switch f[0] {
	case "local":
		return gw, "", fmt.Errorf("%w: %s", errLocalRoute, line)
	case "broadcast", "multicast", "unreachable", "prohibit", "blackhole", "throw":
		return gw, "", fmt.Errorf("route is of type %s: %s", f[0], line)
	}
	for i := 1; i+1 < len(f); i++ {
		switch f[i] {
		case "via":
			v := f[i+1]
			if v == "inet" && i+2 < len(f) { // "via inet 192.0.2.1" in some versions
				v = f[i+2]
			}
			if gw, err = netip.ParseAddr(v); err != nil {
				return gw, "", fmt.Errorf("bad gateway in %q", line)
			}
		case "dev":
			dev = f[i+1]
		}
	}
	if dev == "" {
		return gw, "", fmt.Errorf("no device in %q", line)
	}
	return gw, dev, nil
}

// resolvedItem gives the interface's link its own DNS servers and domains in
// systemd-resolved. A full tunnel adds the routing domain "~." and makes the
// link the default route for lookups, so that no query leaves outside the
// tunnel; a split tunnel with domains sends only those there. Undo is
// "resolvectl revert", which forgets everything set on the link.
func resolvedItem(c *NetConfig) item {
	iface := c.Interface
	var do []Command
	dns := []string{"resolvectl", "dns", iface}
	for _, a := range c.DNS {
		dns = append(dns, a.String())
	}
	do = append(do, cmd(dns...))
	domains := slices.Clone(c.Domains)
	if c.FullTunnel {
		domains = append(domains, "~.")
	}
	if len(domains) > 0 {
		do = append(do, cmd(slices.Concat([]string{"resolvectl", "domain", iface}, domains)...))
	}
	switch {
	case c.FullTunnel:
		do = append(do, cmd("resolvectl", "default-route", iface, "yes"))
	case len(c.Domains) > 0:
		do = append(do, cmd("resolvectl", "default-route", iface, "no"))
	}
	return staticItem(dnsKey("resolved", c), netip.Prefix{}, do,
		[]Command{cmd("resolvectl", "revert", iface)}, false)
}

// linuxDNSBackend returns the forced backend, or detects whether
// systemd-resolved runs: its runtime directory exists and resolvectl can
// talk to it. The answer is kept for the Router's life.
func (e *routerEnv) linuxDNSBackend() DNSBackend {
	if e.dns != DNSAuto {
		return e.dns
	}
	if e.detected == DNSAuto {
		e.detected = DNSResolvConf
		if fi, err := os.Stat(e.resolvedDir); err == nil && fi.IsDir() {
			if _, err := e.exec(cmd("resolvectl", "status")); err == nil {
				e.detected = DNSResolved
			} else {
				e.log.Info("systemd-resolved not answering; using resolv.conf", "err", err)
			}
		}
		e.log.Debug("DNS backend", "backend", e.detected)
	}
	return e.detected
}

// lines splits tool output into trimmed lines.
func lines(out []byte) []string {
	var ls []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		ls = append(ls, strings.TrimSpace(sc.Text()))
	}
	return ls
}
