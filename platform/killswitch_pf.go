package platform

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// The kill switch of macOS: pf(4). This file has no GOOS suffix so that
// its tests run everywhere with a fake runner; killswitch_darwin.go only
// selects it. None of it has run on a Mac: compiled and tested with a
// fake runner only.
//
// The rules go into an anchor of their own under com.apple/, which the
// pf.conf macOS ships evaluates (anchor "com.apple/*"), loaded from
// standard input:
//
//	pfctl -a com.apple/corridor_ks_utun5 -f -
//
// and pf is then enabled with a reference (pfctl -E), which prints a
// token; releasing the token (pfctl -X TOKEN) turns pf off again only
// when nobody else holds a reference, so a pf that the system or the
// administrator uses stays on. Undo, journaled before each step (only
// the anchor's filter rules are flushed: "-F all" would also flush the
// states of the whole system):
//
//	pfctl -a com.apple/corridor_ks_utun5 -F rules
//	pfctl -X TOKEN
//
// The journal of macOS lives in /var/run, emptied at boot, when pf's
// references are gone too. Limits, all unverified: a pf.conf without the
// com.apple anchor never evaluates these rules; connections pf already
// kept state for (when pf was on before the block) keep passing.

// pfAnchor is the pf anchor of the kill switch of device iface.
func pfAnchor(iface string) string { return "com.apple/corridor_ks_" + iface }

// pfKillSwitchRules lets through loopback, the VPN server, DNS, DHCP and
// ICMPv6 (as the Linux table does) and blocks the rest. Every rule is
// quick: the first match decides, whatever the main ruleset says after
// the anchor.
func pfKillSwitchRules(server netip.Addr) string {
	s := server.String()
	return "pass quick on lo0 all\n" +
		"pass quick inet from any to " + s + "\n" +
		"pass quick inet from " + s + " to any\n" +
		"pass out quick proto { udp tcp } from any to any port 53\n" +
		"pass quick inet proto udp from any port 68 to any port 67\n" +
		"pass quick inet proto udp from any port 67 to any port 68\n" +
		"pass quick inet6 proto icmp6 all\n" +
		"block drop quick all\n"
}

type pfKillSwitch struct {
	env    *routerEnv
	key    string // journal key
	anchor string
	token  string // pf's reference while blocking
}

func newPFKillSwitch(iface string, env *routerEnv) (killSwitchImpl, error) {
	if !darwinIfaceOK(iface) {
		return nil, fmt.Errorf("platform: kill switch: bad device name %q", iface)
	}
	return &pfKillSwitch{env: env, key: "killswitch-" + iface, anchor: pfAnchor(iface)}, nil
}

func (k *pfKillSwitch) String() string { return "pf anchor " + k.anchor }

func (k *pfKillSwitch) flush() Command { return cmd("pfctl", "-a", k.anchor, "-F", "rules") }

func (k *pfKillSwitch) journal(undo ...Command) error {
	return writeJournal(k.env.journalDir, k.key, []journalEntry{{Key: "pf " + k.anchor, Undo: undo}})
}

func (k *pfKillSwitch) block(server netip.Addr) error {
	// The rules first, then pf on: when pf starts filtering, the rules
	// are there.
	if err := k.journal(k.flush()); err != nil {
		return err
	}
	fail := func(err error) error {
		k.env.undo(&journalEntry{Undo: []Command{k.flush()}})
		writeJournal(k.env.journalDir, k.key, nil)
		return fmt.Errorf("platform: kill switch: %w", err)
	}
	if _, err := k.env.exec(Command{Args: []string{"pfctl", "-a", k.anchor, "-f", "-"}, Stdin: pfKillSwitchRules(server)}); err != nil {
		return fail(err)
	}
	out, err := k.env.exec(Command{Args: []string{"pfctl", "-E"}, stderrToo: true})
	if err != nil {
		return fail(err)
	}
	token, err := parsePfToken(out)
	if err != nil {
		return fail(err)
	}
	// A crash before this journal leaves pf on with an empty anchor: no
	// block, and pf's reference held until the next boot.
	if err := k.journal(k.flush(), cmd("pfctl", "-X", token)); err != nil {
		return fail(err)
	}
	k.token = token
	return nil
}

func (k *pfKillSwitch) unblock() error {
	undo := []Command{k.flush()}
	if k.token != "" {
		undo = append(undo, cmd("pfctl", "-X", k.token))
	}
	if err := k.env.undo(&journalEntry{Undo: undo}); err != nil {
		return fmt.Errorf("platform: kill switch: %w", err)
	}
	k.token = ""
	return writeJournal(k.env.journalDir, k.key, nil)
}

// parsePfToken reads the reference token from what pfctl -E prints:
//
//	No ALTQ support in kernel
//	ALTQ related functions disabled
//	pf enabled
//	Token : 12345678901234567
func parsePfToken(out []byte) (string, error) {
	for _, l := range lines(out) {
		k, v, ok := strings.Cut(l, ":")
		if !ok || strings.TrimSpace(k) != "Token" {
			continue
		}
		v = strings.TrimSpace(v)
		if _, err := strconv.ParseUint(v, 10, 64); err != nil {
			return "", fmt.Errorf("pfctl -E: bad token %q", v)
		}
		return v, nil
	}
	return "", fmt.Errorf("pfctl -E printed no token: %q", out)
}

// pfctlUndoOK accepts the arguments of the pf kill switch's undo:
//
//	pfctl -a com.apple/corridor_ks_IFACE -F rules
//	pfctl -X TOKEN
func pfctlUndoOK(a []string) bool {
	switch {
	case len(a) == 4 && a[0] == "-a" && a[2] == "-F" && a[3] == "rules":
		iface, ok := strings.CutPrefix(a[1], "com.apple/corridor_ks_")
		return ok && darwinIfaceOK(iface)
	case len(a) == 2 && a[0] == "-X":
		_, err := strconv.ParseUint(a[1], 10, 64)
		return err == nil
	}
	return false
}
