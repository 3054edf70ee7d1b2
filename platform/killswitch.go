package platform

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
)

// ErrNoKillSwitch: this system has no kill switch in Corridor yet.
var ErrNoKillSwitch = errors.New("platform: the kill switch is not supported on this system yet")

// KillSwitch blocks this machine's traffic, except what a reconnect
// needs, while a full-tunnel session is down unexpectedly: with the
// tunnel's routes gone, packets would otherwise leave unprotected.
//
//   - Linux: an nftables table of its own (one per session, named after
//     its device), dropping all input and output but loopback, the VPN
//     server, DNS (to resolve a server given by name), DHCP and ICMPv6 (to
//     get the network back). Like every other change it is journaled
//     first, so a crashed helper's block is lifted by Recover at its next
//     start.
//   - Windows (killswitch_wfp.go): Windows Filtering Platform filters in a
//     dynamic session of the helper's process, through WireGuard's
//     golang.zx2c4.com/wireguard/windows/tunnel/firewall: all traffic
//     blocked but the helper's own, loopback, DHCP, NDP and DNS to the
//     machine's DNS servers. Compiled and tested with a fake only.
//   - macOS: none yet (ErrNoKillSwitch).
type KillSwitch struct {
	impl killSwitchImpl
	log  *slog.Logger
	on   bool
}

// killSwitchImpl is one system's block.
type killSwitchImpl interface {
	block(server netip.Addr) error
	unblock() error
	String() string // what the block is, for the log
}

// NewKillSwitch returns the kill switch of the session on device iface.
func NewKillSwitch(iface string, opts ...RouterOption) (*KillSwitch, error) {
	env := &routerEnv{routerOptions: buildRouterOptions(opts)}
	impl, err := newKillSwitchImpl(iface, env)
	if err != nil {
		return nil, err
	}
	return &KillSwitch{impl: impl, log: env.log}, nil
}

// Block puts the block in place, letting server through. A second Block
// is a no-op.
func (k *KillSwitch) Block(server netip.Addr) error {
	if k.on {
		return nil
	}
	if !server.Is4() {
		return fmt.Errorf("platform: kill switch: server %v is not IPv4", server)
	}
	if err := k.impl.block(server); err != nil {
		return err
	}
	k.on = true
	k.log.Info("kill switch: traffic blocked until the session is back", "block", k.impl.String(), "server", server)
	return nil
}

// Unblock lifts the block (no-op when none is in place).
func (k *KillSwitch) Unblock() error {
	if !k.on {
		return nil
	}
	if err := k.impl.unblock(); err != nil {
		return err
	}
	k.on = false
	k.log.Info("kill switch: block lifted", "block", k.impl.String())
	return nil
}

// Blocking reports whether the block is in place.
func (k *KillSwitch) Blocking() bool { return k.on }

// nftKillSwitch is the kill switch of Linux: an nftables table.
type nftKillSwitch struct {
	env   *routerEnv
	key   string // journal key
	table string
}

func newNftKillSwitch(iface string, env *routerEnv) (killSwitchImpl, error) {
	if !linuxIfaceOK(iface) || len(killSwitchTable(iface)) > 64 {
		return nil, fmt.Errorf("platform: kill switch: bad device name %q", iface)
	}
	return &nftKillSwitch{env: env, key: "killswitch-" + iface, table: killSwitchTable(iface)}, nil
}

func (k *nftKillSwitch) String() string { return "nftables table inet " + k.table }

// killSwitchTable is the nftables table of the kill switch of device
// iface.
func killSwitchTable(iface string) string { return "corridor_ks_" + iface }

// killSwitchRules is the table that lets only server's traffic (and
// DNS, DHCP, ICMPv6, loopback) through.
func killSwitchRules(table string, server netip.Addr) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", table)
	for _, c := range []struct{ name, dir, peer, sport, dport string }{
		{"output", "oifname", "daddr", "sport", "dport"},
		{"input", "iifname", "saddr", "dport", "sport"},
	} {
		fmt.Fprintf(&b, "\tchain %s {\n\t\ttype filter hook %s priority 0; policy drop;\n", c.name, c.name)
		fmt.Fprintf(&b, "\t\t%s \"lo\" accept\n", c.dir)
		fmt.Fprintf(&b, "\t\tip %s %s accept\n", c.peer, server)
		fmt.Fprintf(&b, "\t\tudp %s 53 accept\n\t\ttcp %s 53 accept\n", c.dport, c.dport)
		fmt.Fprintf(&b, "\t\tudp %s 68 udp %s 67 accept\n", c.sport, c.dport)
		b.WriteString("\t\tmeta l4proto ipv6-icmp accept\n\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

func (k *nftKillSwitch) block(server netip.Addr) error {
	undo := []Command{cmd("nft", "delete", "table", "inet", k.table)}
	// Journaled before it is applied: a crash in between leaves an undo
	// of nothing, which Recover skips (the table is gone).
	if err := writeJournal(k.env.journalDir, k.key, []journalEntry{{Key: "nft " + k.table, Undo: undo}}); err != nil {
		return err
	}
	if _, err := k.env.exec(Command{Args: []string{"nft", "-f", "-"}, Stdin: killSwitchRules(k.table, server)}); err != nil {
		writeJournal(k.env.journalDir, k.key, nil)
		return fmt.Errorf("platform: kill switch: %w", err)
	}
	return nil
}

func (k *nftKillSwitch) unblock() error {
	if _, err := k.env.exec(cmd("nft", "delete", "table", "inet", k.table)); err != nil && !isGone(err) {
		return fmt.Errorf("platform: kill switch: %w", err)
	}
	return writeJournal(k.env.journalDir, k.key, nil)
}

// nftUndoOK accepts the kill switch's undo: nft delete table inet
// corridor_ks_IFACE.
func nftUndoOK(a []string) bool {
	return len(a) == 4 && a[0] == "delete" && a[1] == "table" && a[2] == "inet" &&
		strings.HasPrefix(a[3], "corridor_ks_") && linuxIfaceOK(strings.TrimPrefix(a[3], "corridor_ks_"))
}
