package platform

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Trusting a journal. Replaying one runs commands and rewrites a file as
// root, so a journal is replayed only when nobody but root can have written
// it, and only when every action in it is one the Router itself journals:
//
//   - its directory and the file are owned by root (on Windows: SYSTEM or
//     the Administrators; see fileowner_other.go) and writable by no one
//     else (no group or other write bit), and neither is a symbolic link;
//   - every undo command has one of the shapes the planners write (below),
//     each part checked: an interface name, a prefix, an address;
//   - a file is restored only at the resolv.conf path this Router uses.
//
// A journal that fails is left alone, neither replayed nor deleted, and the
// error says why, so that an administrator can look at it.

// ErrUntrustedJournal is matched (errors.Is) by the error of a journal that
// is not replayed because it fails these checks.
var ErrUntrustedJournal = errors.New("journal not replayed and left in place")

// maxJournalSize bounds what is read: a journal holds a few commands and
// one resolv.conf.
const maxJournalSize = 1 << 20

func untrusted(path, format string, args ...any) error {
	return fmt.Errorf("platform: journal %s: %w: %s", path, ErrUntrustedJournal, fmt.Sprintf(format, args...))
}

// checkJournalDir checks the directory that holds journals.
func checkJournalDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return untrusted(dir, "the directory is a symbolic link")
	}
	if !fi.IsDir() {
		return untrusted(dir, "not a directory (%v)", fi.Mode().Type())
	}
	if err := checkOwnerMode(fi); err != nil {
		return untrusted(dir, "the directory is %v", err)
	}
	return nil
}

// readTrustedJournal reads and decodes the journal at path, in a directory
// that passed checkJournalDir, and checks the file and every entry in it.
// allowedRestore is the one file a journal may restore.
func readTrustedJournal(path, allowedRestore string) (*journalFile, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, untrusted(path, "it is a symbolic link")
	}
	if !fi.Mode().IsRegular() {
		return nil, untrusted(path, "not a regular file (%v)", fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Check what was opened, not what the name held a moment before.
	ofi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !os.SameFile(fi, ofi) {
		return nil, untrusted(path, "it was replaced while being opened")
	}
	if err := checkOwnerMode(ofi); err != nil {
		return nil, untrusted(path, "it is %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxJournalSize+1))
	if err != nil {
		return nil, fmt.Errorf("platform: journal %s: %w", path, err)
	}
	if len(data) > maxJournalSize {
		return nil, untrusted(path, "larger than %d bytes", maxJournalSize)
	}
	j, err := decodeJournal(path, data)
	if err != nil {
		return nil, err
	}
	if err := checkIfaceName(j.Interface); err != nil {
		return nil, untrusted(path, "bad interface name %q", j.Interface)
	}
	for _, e := range j.Entries {
		if e.Restore != nil {
			if err := checkRestore(e.Restore, allowedRestore); err != nil {
				return nil, untrusted(path, "entry %q: %v", e.Key, err)
			}
		}
		for _, c := range e.Undo {
			if err := checkUndoCommand(c); err != nil {
				return nil, untrusted(path, "entry %q: %v", e.Key, err)
			}
		}
	}
	return j, nil
}

// checkRestore accepts a backup of the file allowed, and only with plain
// permission bits.
func checkRestore(b *fileBackup, allowed string) error {
	if allowed == "" || b.Path != allowed || filepath.Clean(b.Path) != b.Path || !filepath.IsAbs(b.Path) {
		return fmt.Errorf("restore of %q: the journal may only restore %s", b.Path, allowed)
	}
	if b.Mode&^0o777 != 0 {
		return fmt.Errorf("restore of %s with mode %#o: only permission bits are restored", b.Path, b.Mode)
	}
	if strings.ContainsRune(b.Symlink, 0) {
		return fmt.Errorf("restore of %s: bad link target %q", b.Path, b.Symlink)
	}
	return nil
}

// checkUndoCommand accepts the undo commands the planners of linuxcmds.go,
// darwincmds.go and windowscmds.go and the kill switch (killswitch.go)
// write, and nothing else. Program names
// are bare, as written: they are looked up in the helper's PATH, never a
// path from the journal.
func checkUndoCommand(c Command) error {
	a := c.Args
	if len(a) == 0 {
		return errors.New("empty command")
	}
	ok := false
	switch a[0] {
	case "ip":
		ok = c.Stdin == "" && linuxUndoOK(a[1:])
	case "resolvectl":
		// resolvectl revert IFACE
		ok = c.Stdin == "" && len(a) == 3 && a[1] == "revert" && linuxIfaceOK(a[2])
	case "nft":
		ok = c.Stdin == "" && nftUndoOK(a[1:])
	case "pfctl":
		ok = c.Stdin == "" && pfctlUndoOK(a[1:])
	case "route":
		ok = c.Stdin == "" && darwinRouteUndoOK(a[1:])
	case "ifconfig":
		// ifconfig IFACE inet6 ADDR6 -alias
		ok = c.Stdin == "" && len(a) == 5 && darwinIfaceOK(a[1]) && a[2] == "inet6" && addr6OK(a[3]) && a[4] == "-alias"
	case "scutil":
		ok = len(a) == 1 && scutilUndoOK(c.Stdin)
	case "netsh":
		ok = c.Stdin == "" && netshUndoOK(a[1:])
	case "powershell":
		ok = c.Stdin == "" && powershellUndoOK(a[1:])
	case "reg", "ipconfig":
		ok = c.Stdin == "" && nrptUndoOK(a) // Windows NRPT rules: nrpt.go
	default:
		return fmt.Errorf("program %q is not one the Router runs", a[0])
	}
	if !ok {
		s := c.String()
		if c.Stdin != "" {
			s += fmt.Sprintf(" (stdin %q)", c.Stdin)
		}
		return fmt.Errorf("%q is not a command the Router journals", s)
	}
	return nil
}

// prefixOK accepts an IPv4 prefix as netip.Prefix.String writes it,
// masked.
func prefixOK(s string) bool {
	p, err := netip.ParsePrefix(s)
	return err == nil && p.Addr().Is4() && p == p.Masked() && p.String() == s
}

// block6PrefixOK accepts one of the two IPv6 halves a full tunnel blocks,
// as netip.Prefix.String writes it.
func block6PrefixOK(s string) bool {
	for _, p := range ipv6Halves {
		if p.String() == s {
			return true
		}
	}
	return false
}

// addrOK accepts an IPv4 address as netip.Addr.String writes it.
func addrOK(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4() && a.String() == s
}

// addr6OK accepts an IPv6 address without zone as netip.Addr.String
// writes it.
func addr6OK(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is6() && !a.Is4In6() && a.Zone() == "" && a.String() == s
}

// linuxIfaceOK accepts a Linux interface name (IFNAMSIZ) that is no option.
func linuxIfaceOK(s string) bool {
	return checkIfaceName(s) == nil && len(s) <= 15 && !strings.ContainsAny(s, " \t:") && !strings.HasPrefix(s, "-")
}

// prefix6OK accepts an IPv6 prefix as netip.Prefix.String writes it,
// masked, with no zone, and not ::/0 (the planners never route it: see
// NetConfig.Default6).
func prefix6OK(s string) bool {
	p, err := netip.ParsePrefix(s)
	return err == nil && p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() > 0 && p == p.Masked() && p.String() == s
}

// addr6PrefixOK accepts an IPv6 address with its prefix length (the
// device's addresses: not masked), as netip.Prefix.String writes it.
func addr6PrefixOK(s string) bool {
	p, err := netip.ParsePrefix(s)
	return err == nil && p.Addr().Is6() && !p.Addr().Is4In6() && p.String() == s
}

// linuxUndoOK accepts the arguments of
//
//	ip -4 route del PREFIX dev IFACE
//	ip -4 route del PREFIX via GATEWAY dev IFACE
//	ip -6 route del unreachable ::/1 metric 1     (and 8000::/1: a full tunnel's IPv6 block)
//	ip -6 route del PREFIX6 dev IFACE
//	ip -6 addr del ADDR6/LEN dev IFACE
func linuxUndoOK(a []string) bool {
	if len(a) == 7 && a[0] == "-6" {
		return a[1] == "route" && a[2] == "del" && a[3] == "unreachable" && block6PrefixOK(a[4]) &&
			a[5] == "metric" && a[6] == block6Metric
	}
	if len(a) == 6 && a[0] == "-6" && a[2] == "del" && a[4] == "dev" && linuxIfaceOK(a[5]) {
		return a[1] == "route" && prefix6OK(a[3]) || a[1] == "addr" && addr6PrefixOK(a[3])
	}
	if len(a) < 6 || a[0] != "-4" || a[1] != "route" || a[2] != "del" || !prefixOK(a[3]) {
		return false
	}
	rest := a[4:]
	if len(rest) == 4 && rest[0] == "via" && addrOK(rest[1]) {
		rest = rest[2:]
	}
	return len(rest) == 2 && rest[0] == "dev" && linuxIfaceOK(rest[1])
}

// darwinIfaceOK accepts what darwinItems accepts: letters and digits.
func darwinIfaceOK(s string) bool {
	if s == "" || len(s) > 15 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// darwinRouteUndoOK accepts the arguments of
//
//	route -n delete -net PREFIX -interface IFACE
//	route -n delete -host ADDR GATEWAY
//	route -n delete -host ADDR -interface IFACE
//	route -n delete -inet6 ::/1 ::1                 (and 8000::/1: a full tunnel's IPv6 block)
//	route -n delete -inet6 PREFIX6 -interface IFACE
func darwinRouteUndoOK(a []string) bool {
	if len(a) < 4 || a[0] != "-n" || a[1] != "delete" {
		return false
	}
	switch {
	case len(a) == 5 && a[2] == "-inet6":
		return block6PrefixOK(a[3]) && a[4] == "::1"
	case len(a) == 6 && a[2] == "-inet6" && prefix6OK(a[3]):
		return a[4] == "-interface" && darwinIfaceOK(a[5])
	case len(a) == 6 && a[2] == "-net" && prefixOK(a[3]):
		return a[4] == "-interface" && darwinIfaceOK(a[5])
	case len(a) == 5 && a[2] == "-host" && addrOK(a[3]):
		return addrOK(a[4])
	case len(a) == 6 && a[2] == "-host" && addrOK(a[3]):
		return a[4] == "-interface" && darwinIfaceOK(a[5])
	}
	return false
}

// scutilUndoOK accepts the script "remove State:/Network/Service/corridor-IFACE/DNS\nquit\n".
func scutilUndoOK(stdin string) bool {
	s, ok := strings.CutPrefix(stdin, "remove ")
	if !ok {
		return false
	}
	key, ok := strings.CutSuffix(s, "\nquit\n")
	if !ok {
		return false
	}
	iface, ok := strings.CutPrefix(key, "State:/Network/Service/corridor-")
	if !ok {
		return false
	}
	iface, ok = strings.CutSuffix(iface, "/DNS")
	return ok && darwinIfaceOK(iface) && key == scutilDNSKey(iface)
}

// windowsIfaceOK accepts an adapter name as windowsItems does, held to
// plain characters: it also appears inside a PowerShell string.
func windowsIfaceOK(s string) bool {
	if checkIfaceName(s) != nil || len(s) > 256 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(" -_.()#", c)) {
			return false
		}
	}
	return true
}

// netshUndoOK accepts the arguments of
//
//	netsh interface ipv4 delete route prefix=PREFIX interface=IFACE store=active
//	netsh interface ipv4 delete route prefix=ADDR/32 interface=INDEX [nexthop=GATEWAY] store=active
//	netsh interface ipv4 set dnsservers name=IFACE source=dhcp
//	netsh interface ipv6 delete route prefix=PREFIX6 interface=IFACE store=active   (::/1 and 8000::/1: a full tunnel's IPv6 block or Default6)
//	netsh interface ipv6 delete address interface=IFACE address=ADDR6 store=active
func netshUndoOK(a []string) bool {
	if len(a) == 7 && a[0] == "interface" && a[1] == "ipv6" && a[2] == "delete" && a[6] == "store=active" {
		switch a[3] {
		case "route":
			p, ok1 := strings.CutPrefix(a[4], "prefix=")
			iface, ok2 := strings.CutPrefix(a[5], "interface=")
			return ok1 && prefix6OK(p) && ok2 && windowsIfaceOK(iface) && !isDecimal(iface)
		case "address":
			iface, ok1 := strings.CutPrefix(a[4], "interface=")
			addr, ok2 := strings.CutPrefix(a[5], "address=")
			return ok1 && windowsIfaceOK(iface) && !isDecimal(iface) && ok2 && addr6OK(addr)
		}
		return false
	}
	if len(a) < 2 || a[0] != "interface" || a[1] != "ipv4" {
		return false
	}
	a = a[2:]
	if len(a) == 4 && a[0] == "set" && a[1] == "dnsservers" && a[3] == "source=dhcp" {
		name, ok := strings.CutPrefix(a[2], "name=")
		return ok && windowsIfaceOK(name)
	}
	if len(a) < 5 || a[0] != "delete" || a[1] != "route" || a[len(a)-1] != "store=active" {
		return false
	}
	p, ok1 := strings.CutPrefix(a[2], "prefix=")
	iface, ok2 := strings.CutPrefix(a[3], "interface=")
	if !ok1 || !ok2 || !prefixOK(p) || !windowsIfaceOK(iface) {
		return false
	}
	switch len(a) {
	case 5:
		return true
	case 6:
		gw, ok := strings.CutPrefix(a[4], "nexthop=")
		return ok && addrOK(gw)
	}
	return false
}

// isDecimal: netsh and winNetRunner read "interface=12" as an index.
func isDecimal(s string) bool {
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// powershellUndoOK accepts the arguments of
//
//	powershell -NoProfile -NonInteractive -Command "Set-DnsClient -InterfaceAlias 'IFACE' -ResetConnectionSpecificSuffix"
func powershellUndoOK(a []string) bool {
	if len(a) != 4 || a[0] != "-NoProfile" || a[1] != "-NonInteractive" || a[2] != "-Command" {
		return false
	}
	s, ok := strings.CutPrefix(a[3], "Set-DnsClient -InterfaceAlias '")
	if !ok {
		return false
	}
	iface, ok := strings.CutSuffix(s, "' -ResetConnectionSpecificSuffix")
	// No quote of any kind inside: windowsIfaceOK admits none.
	return ok && windowsIfaceOK(iface) && a[3] == "Set-DnsClient -InterfaceAlias "+psQuote(iface)+" -ResetConnectionSpecificSuffix"
}
