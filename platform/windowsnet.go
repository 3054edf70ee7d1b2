package platform

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Windows networking through the IP Helper API. This file has no GOOS
// suffix so that its tests run on every system with a fake; the real calls
// (golang.zx2c4.com/wireguard/windows/tunnel/winipcfg) are in
// winipcfg_windows.go. None of it has run on Windows yet: it is compiled
// and tested against fakes only.
//
// Two users:
//
//   - OpenTUN (tun_windows.go) gives the Wintun adapter its address, MTU,
//     interface metric and the route to the peer: configureWindowsTUN.
//     These live and die with the adapter and are not journaled, as on
//     Linux.
//   - The Router (router_windows.go) plans with windowsIPHelperItems. Its
//     changes and their undo are Commands, as on every system, because the
//     Commands are what the journal stores and what journaltrust.go checks
//     before a replay, field by field. Routes are spelled as the netsh
//     commands windowscmds.go always wrote ("netsh interface ipv4 add|delete
//     route prefix=... interface=NAME|INDEX [nexthop=...] store=active"), and
//     so is the DNS undo ("netsh interface ipv4 set dnsservers name=NAME
//     source=dhcp"); setting DNS servers and search domains together has no
//     netsh one-liner and is spelled "winipcfg set-dns interface=NAME
//     servers=A,B domains=D,E" (it is never journaled: only undo is). The
//     Router's Runner on Windows, winNetRunner, executes these through the
//     IP Helper API and never starts netsh for them: no console language in
//     the way, no process per route. The journal stays readable, and an
//     administrator can still run its undo lines by hand with netsh.
//     What the IP Helper API does not offer, the query for the route the
//     server takes now (Find-NetRoute, which asks the stack itself; the API
//     has GetBestRoute2, which winipcfg does not wrap), still runs as
//     PowerShell.

// winNet is the part of the IP Helper API that Corridor uses. Interfaces
// are named by their LUID (NET_LUID, as a uint64).
type winNet interface {
	// LUIDByAlias finds the interface with this friendly name (the
	// adapter's name in the Control Panel; the Wintun adapter's name).
	LUIDByAlias(alias string) (uint64, error)
	// LUIDByIndex finds the interface with this IPv4 interface index.
	LUIDByIndex(index uint32) (uint64, error)
	// SetAddress makes addr the interface's only unicast address of its
	// family.
	SetAddress(luid uint64, addr netip.Prefix) error
	// SetMTU sets the IPv4 interface's MTU (NlMtu of its IPInterface row).
	SetMTU(luid uint64, mtu int) error
	// SetMetric sets the IPv4 interface's metric, turning the automatic
	// metric off.
	SetMetric(luid uint64, metric uint32) error
	// AddRoute adds dst through the interface, via nextHop (the invalid
	// Addr: on link).
	AddRoute(luid uint64, dst netip.Prefix, nextHop netip.Addr, metric uint32) error
	// DeleteRoute removes the route AddRoute added.
	DeleteRoute(luid uint64, dst netip.Prefix, nextHop netip.Addr) error
	// AddAddress adds one more unicast address (an IPv6 one of the
	// session) with its on-link prefix length; DeleteAddress removes it.
	AddAddress(luid uint64, addr netip.Prefix) error
	DeleteAddress(luid uint64, addr netip.Addr) error
	// SetDNS sets the interface's DNS servers (of both families: the
	// IPv6 ones when there are any) and search domains; nil, nil
	// removes them (back to what DHCP gives, if anything), for both
	// families where the interface has IPv6.
	SetDNS(luid uint64, servers []netip.Addr, domains []string) error
	// HasIPv6 reports whether the interface has IPv6 (an IPv6 IPInterface
	// row): not when IPv6 is turned off on the machine or unbound from
	// the adapter.
	HasIPv6(luid uint64) (bool, error)
	// The registry, for the NRPT rules of split DNS (nrpt.go).
	winRegistry
	// FlushDNSCache empties the DNS Client's cache
	// (DnsFlushResolverCache), which also makes it read the NRPT again.
	FlushDNSCache() error
}

// windowsTUNMetric is the interface metric of the Corridor adapter: lower
// than any Ethernet or Wi-Fi one, so that Windows prefers its DNS servers
// (it asks those of every interface, the lowest metric first) and its
// routes over an equal one elsewhere.
const windowsTUNMetric = 5

// configureWindowsTUN gives the adapter its address, MTU and metric, and
// the host route to the peer when there is one. A failure leaves the rest
// undone; the caller closes the adapter, which takes all of it away.
func configureWindowsTUN(n winNet, luid uint64, cfg TUNConfig) error {
	bits := 32
	if cfg.Local.Is6() {
		bits = 128
	}
	if err := n.SetAddress(luid, netip.PrefixFrom(cfg.Local, bits)); err != nil {
		return fmt.Errorf("platform: setting the address %v: %w", cfg.Local, err)
	}
	if err := n.SetMTU(luid, cfg.MTU); err != nil {
		return fmt.Errorf("platform: setting the MTU %d: %w", cfg.MTU, err)
	}
	if err := n.SetMetric(luid, windowsTUNMetric); err != nil {
		return fmt.Errorf("platform: setting the interface metric: %w", err)
	}
	if cfg.Peer.IsValid() {
		if err := n.AddRoute(luid, netip.PrefixFrom(cfg.Peer, bits), netip.Addr{}, 0); err != nil {
			return fmt.Errorf("platform: adding the route to the peer %v: %w", cfg.Peer, err)
		}
	}
	return nil
}

// windowsIPHelperItems is the Windows plan the Router uses: the host route
// and the routes through the device as windowsItems plans them (netsh
// spelling, executed by winNetRunner), DNS through SetDNS.
func windowsIPHelperItems(c *NetConfig, env *routerEnv) ([]item, error) {
	if !windowsIfaceOK(c.Interface) {
		// The journal's undo must pass journaltrust.go, or Recover would
		// leave it unreplayed.
		return nil, fmt.Errorf("platform: invalid Windows interface name %q: letters, digits, spaces and -_.()# only", c.Interface)
	}
	if _, err := strconv.ParseUint(c.Interface, 10, 32); err == nil {
		// "interface=12" is an index to netsh and to winNetRunner.
		return nil, fmt.Errorf("platform: a Windows interface name cannot be a number: %q", c.Interface)
	}
	items, err := windowsItemsWith(c, env, windowsIPHelperDNSItem)
	if err != nil {
		return nil, err
	}
	return append(items, windowsNRPTItems(c, env)...), nil
}

// windowsIPHelperDNSItem sets the interface's DNS servers and search
// domains in one call (SetInterfaceDnsSettings on Windows 10 1809 and
// later, the interface's registry key before), unlike netsh, which sets
// one server per command and no search list. Undo removes both.
//
// Windows asks the DNS servers of all interfaces; the adapter's low metric
// (configureWindowsTUN) makes it ask these first. That is all a tunnel
// without domains can have; a full tunnel also gets an NRPT rule for
// every name (nrptCatchAll), so that no name goes to the LAN's servers. A split tunnel
// with domains (nrptScoped) sets the search domains only: its servers get
// the names under its domains through an NRPT rule (nrpt.go) and no
// others.
func windowsIPHelperDNSItem(c *NetConfig, env *routerEnv) item {
	var servers []string
	backend := "winipcfg"
	if nrptScoped(c) {
		backend = "winipcfg search-only"
	} else {
		for _, a := range c.DNS {
			servers = append(servers, a.String())
		}
	}
	do := cmd("winipcfg", "set-dns", "interface="+c.Interface, "servers="+strings.Join(servers, ","), "domains="+strings.Join(c.Domains, ","))
	undo := cmd("netsh", "interface", "ipv4", "set", "dnsservers", "name="+c.Interface, "source=dhcp")
	return staticItem(dnsKey(backend, c), netip.Prefix{}, []Command{do}, []Command{undo}, false)
}

// winNetRunner is the Router's Runner on Windows: it executes the commands
// windowsIPHelperItems writes, and the undo lines of their journals,
// through n; anything else goes to next (PowerShell's Find-NetRoute).
type winNetRunner struct {
	n    winNet
	next Runner
}

func (r winNetRunner) Run(c Command) ([]byte, error) {
	op, ok, err := parseWinNetCommand(c)
	if err != nil {
		return nil, &CommandError{Args: c.Args, ExitCode: -1, Err: err}
	}
	if !ok {
		return r.next.Run(c)
	}
	out, err := op.apply(r.n)
	if err != nil {
		return nil, winNetCommandError(c, err)
	}
	return out, nil
}

// winNetOp is one call, parsed from its command.
type winNetOp struct {
	kind    string // "add-route", "delete-route", "add-address", "delete-address", "set-dns", "flush-dns", and those of applyNRPT
	alias   string // the interface by name, or
	index   uint32 // by index
	regKey  string // the NRPT rule's key (nrpt.go)
	prefix  netip.Prefix
	nextHop netip.Addr
	servers []netip.Addr
	domains []string
}

func (op winNetOp) luid(n winNet) (uint64, error) {
	if op.alias != "" {
		return n.LUIDByAlias(op.alias)
	}
	return n.LUIDByIndex(op.index)
}

func (op winNetOp) apply(n winNet) ([]byte, error) {
	if op.regKey != "" || op.kind == "flush-dns-cache" || op.kind == "nrpt-group-policy" {
		return op.applyNRPT(n)
	}
	return nil, op.applyIface(n)
}

func (op winNetOp) applyIface(n winNet) error {
	luid, err := op.luid(n)
	if err != nil {
		return err
	}
	if op.prefix.Addr().Is6() || op.kind == "add-address" || op.kind == "delete-address" {
		// An IPv6 route on an interface without IPv6 cannot be made, and
		// there is no IPv6 on it to block: say so in words the Router
		// reads (isNoIPv6), which skips the block, and takes for "gone"
		// on undo.
		has, err := n.HasIPv6(luid)
		if err != nil {
			return err
		}
		if !has {
			return errNoIPv6
		}
	}
	switch op.kind {
	case "add-route":
		return n.AddRoute(luid, op.prefix, op.nextHop, 0)
	case "delete-route":
		return n.DeleteRoute(luid, op.prefix, op.nextHop)
	case "add-address":
		return n.AddAddress(luid, op.prefix)
	case "delete-address":
		return n.DeleteAddress(luid, op.prefix.Addr())
	case "set-dns":
		return n.SetDNS(luid, op.servers, op.domains)
	case "flush-dns":
		return n.SetDNS(luid, nil, nil)
	}
	return fmt.Errorf("unknown operation %q", op.kind)
}

// parseWinNetCommand reads the commands winNetRunner executes itself:
//
//	netsh interface ipv4 add|delete route prefix=PREFIX interface=NAME|INDEX [nexthop=ADDR] store=active
//	netsh interface ipv4 set dnsservers name=NAME source=dhcp
//	winipcfg set-dns interface=NAME servers=A,B domains=D,E
//	netsh interface ipv6 add|delete route prefix=PREFIX6 interface=NAME store=active
//	netsh interface ipv6 add address interface=NAME address=ADDR6/LEN store=active
//	netsh interface ipv6 delete address interface=NAME address=ADDR6 store=active
//
// and the NRPT commands of parseNRPTCommand. ok is false for any other
// command (run as it is); err is set for a "winipcfg" command that is
// malformed, which must never reach a shell.
func parseWinNetCommand(c Command) (op winNetOp, ok bool, err error) {
	a := c.Args
	if c.Stdin != "" || len(a) == 0 {
		return op, false, nil
	}
	switch a[0] {
	case "winipcfg":
		if len(a) > 1 && a[1] != "set-dns" {
			return parseNRPTCommand(a)
		}
		op, err = parseSetDNS(a[1:])
		return op, err == nil, err
	case "reg", "ipconfig":
		return parseNRPTCommand(a)
	case "netsh":
	default:
		return op, false, nil
	}
	if len(a) < 4 || a[1] != "interface" || a[2] != "ipv4" && a[2] != "ipv6" {
		return op, false, nil
	}
	v6 := a[2] == "ipv6"
	a = a[3:]
	if v6 {
		if len(a) > 1 && a[1] == "address" {
			return parseAddress6(a)
		}
		return parseRoute6(a)
	}
	if len(a) == 4 && a[0] == "set" && a[1] == "dnsservers" && a[3] == "source=dhcp" {
		name, ok := strings.CutPrefix(a[2], "name=")
		if !ok || name == "" {
			return op, false, nil
		}
		return winNetOp{kind: "flush-dns", alias: name}, true, nil
	}
	if len(a) < 5 || a[1] != "route" || a[len(a)-1] != "store=active" {
		return op, false, nil
	}
	switch a[0] {
	case "add":
		op.kind = "add-route"
	case "delete":
		op.kind = "delete-route"
	default:
		return op, false, nil
	}
	p, ok1 := strings.CutPrefix(a[2], "prefix=")
	iface, ok2 := strings.CutPrefix(a[3], "interface=")
	if !ok1 || !ok2 || iface == "" {
		return op, false, nil
	}
	if op.prefix, err = netip.ParsePrefix(p); err != nil || !op.prefix.Addr().Is4() {
		return winNetOp{}, false, nil
	}
	if idx, err := strconv.ParseUint(iface, 10, 32); err == nil {
		op.index = uint32(idx)
	} else {
		op.alias = iface
	}
	switch len(a) {
	case 5:
	case 6:
		gw, ok := strings.CutPrefix(a[4], "nexthop=")
		if !ok {
			return winNetOp{}, false, nil
		}
		if op.nextHop, err = netip.ParseAddr(gw); err != nil || !op.nextHop.Is4() {
			return winNetOp{}, false, nil
		}
	default:
		return winNetOp{}, false, nil
	}
	return op, true, nil
}

// parseRoute6 reads the rest of "netsh interface ipv6 add|delete route
// prefix=PREFIX6 interface=NAME store=active": the IPv6 block of a full
// tunnel (windowsBlock6Items) and the session's IPv6 routes
// (windowsIPv6Items); only by name.
func parseRoute6(a []string) (op winNetOp, ok bool, err error) {
	if len(a) != 5 || a[1] != "route" || a[4] != "store=active" {
		return op, false, nil
	}
	switch a[0] {
	case "add":
		op.kind = "add-route"
	case "delete":
		op.kind = "delete-route"
	default:
		return op, false, nil
	}
	p, ok1 := strings.CutPrefix(a[2], "prefix=")
	iface, ok2 := strings.CutPrefix(a[3], "interface=")
	if !ok1 || !ok2 || !prefix6OK(p) || iface == "" || isDecimal(iface) {
		return winNetOp{}, false, nil
	}
	op.prefix = netip.MustParsePrefix(p)
	op.alias = iface
	return op, true, nil
}

// parseAddress6 reads the rest of "netsh interface ipv6 add address
// interface=NAME address=ADDR6/LEN store=active" and of its undo, "delete
// address interface=NAME address=ADDR6 store=active" (windowsIPv6Items).
func parseAddress6(a []string) (op winNetOp, ok bool, err error) {
	if len(a) != 5 || a[1] != "address" || a[4] != "store=active" {
		return op, false, nil
	}
	iface, ok1 := strings.CutPrefix(a[2], "interface=")
	addr, ok2 := strings.CutPrefix(a[3], "address=")
	if !ok1 || !ok2 || iface == "" || isDecimal(iface) {
		return op, false, nil
	}
	switch {
	case a[0] == "add" && addr6PrefixOK(addr):
		op.kind, op.prefix = "add-address", netip.MustParsePrefix(addr)
	case a[0] == "delete" && addr6OK(addr):
		op.kind, op.prefix = "delete-address", netip.PrefixFrom(netip.MustParseAddr(addr), 128)
	default:
		return winNetOp{}, false, nil
	}
	op.alias = iface
	return op, true, nil
}

// parseSetDNS reads "set-dns interface=NAME servers=A,B domains=D,E".
func parseSetDNS(a []string) (winNetOp, error) {
	op := winNetOp{kind: "set-dns"}
	if len(a) != 4 || a[0] != "set-dns" {
		return op, fmt.Errorf("malformed winipcfg command %q", a)
	}
	name, ok1 := strings.CutPrefix(a[1], "interface=")
	servers, ok2 := strings.CutPrefix(a[2], "servers=")
	domains, ok3 := strings.CutPrefix(a[3], "domains=")
	// No servers: the search domains of a tunnel whose DNS an NRPT rule
	// scopes (windowsIPHelperDNSItem).
	if !ok1 || !ok2 || !ok3 || name == "" || servers == "" && domains == "" {
		return op, fmt.Errorf("malformed winipcfg command %q", a)
	}
	op.alias = name
	var list []string
	if servers != "" {
		list = strings.Split(servers, ",")
	}
	for _, s := range list {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Is4In6() || addr.Zone() != "" || addr.IsLinkLocalUnicast() || addr.IsUnspecified() {
			return op, fmt.Errorf("bad DNS server %q", s)
		}
		op.servers = append(op.servers, addr)
	}
	if domains != "" {
		op.domains = strings.Split(domains, ",")
	}
	return op, nil
}

// errNoIPv6 is winNetRunner's answer to an IPv6 route on an interface
// without IPv6.
var errNoIPv6 = errors.New(noIPv6WinWords)

// winNetCommandError reports a failed call the way the Router's checks
// read failures (runner.go: isExists, isGone): as a *CommandError whose
// Output holds netsh's English words for the error's number, whatever the
// language of the system, since the number is what was returned.
func winNetCommandError(c Command, err error) error {
	words := err.Error()
	switch {
	case errors.Is(err, errObjectExists), errors.Is(err, errAlreadyExists):
		words = "The object already exists."
	case errors.Is(err, errNotFound):
		words = "Element not found."
	case errors.Is(err, errFileNotFound):
		words = "The system cannot find the file specified."
	case errors.Is(err, errNoIPv6):
		words = noIPv6WinWords + "."
	}
	return &CommandError{Args: c.Args, ExitCode: 1, Output: words, Err: err}
}
