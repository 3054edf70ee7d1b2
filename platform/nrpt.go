package platform

import (
	"fmt"
	"net/netip"
	"strings"
)

// Split DNS on Windows: the Name Resolution Policy Table (NRPT).
//
// Windows asks the DNS servers of every interface for every name (the
// lowest interface metric first), so the servers of an adapter are not
// scoped to anything. A split tunnel with domains therefore gets one NRPT
// rule per session instead: names under its domains go to its servers,
// and nothing else does. Its adapter keeps the search domains (so that a
// short name gets the tunnel's suffix and then matches the rule) but no
// DNS servers. A full tunnel, or a tunnel without domains, keeps the
// adapter's servers as before (windowsIPHelperDNSItem).
//
// A rule is a registry key, [MS-GPNRPT] 2.2.2 (the layout the DNS Client
// reads; Add-DnsClientNrptRule writes the same values, with Version 2,
// according to public code that read them back):
//
//	HKLM\SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig\{RULE GUID}
//	  Version            REG_DWORD     1                                  (2.2.2.3: MUST be 1)
//	  Name               REG_MULTI_SZ  corp.example .corp.example ...     (the name itself, and with a leading dot the names under it)
//	  GenericDNSServers  REG_SZ        10.0.0.53;10.0.0.54                (2.2.2.13; semicolon-delimited as the other server lists of 2.2.2)
//	  ConfigOptions      REG_DWORD     8                                  (2.2.2.2: only the generic DNS servers option)
//	  IPSECCARestriction REG_SZ        ""
//	  DisplayName, Comment REG_SZ      what Get-DnsClientNrptRule shows an administrator
//
// The rule's GUID is derived from the adapter's name (a name-based UUID,
// RFC 9562 5.5), so the rule of each session has its own key, the same on
// every Set, and a second tunnel never touches the first one's rule. A
// rule lists at most 50 names (an undocumented limit tailscale's code notes);
// each domain takes two (the domain itself and everything under it), so
// more than 25 domains take several rules.
//
// The rule outlives the process and a reboot (unlike routes), so it is
// journaled like every other change; its undo is spelled as an
// administrator would type it, and Recover runs it as it is:
//
//	reg delete HKLM\SYSTEM\...\DnsPolicyConfig\{RULE GUID} /f
//	ipconfig /flushdns
//
// The Router's runner on Windows (winNetRunner) executes these, and the
// "winipcfg set-nrpt" that writes the rule (never journaled), through the
// registry API and DnsFlushResolverCache instead (nrpt_windows.go). The
// DNS Client reads the table when its cache is flushed, so every change is
// followed by a flush.
//
// Rules set by Group Policy (under SOFTWARE\Policies\Microsoft\Windows
// NT\DNSClient\DnsPolicyConfig) replace the local table as a whole: on
// such a machine the rule is written but Windows does not use it, which
// the Router logs as a warning.
//
// Compiled and tested with fakes only, and the registry calls under Wine
// (build/wine/wine-test.sh): never run on Windows.

const (
	// nrptLocalBase is the local table, under HKEY_LOCAL_MACHINE.
	nrptLocalBase = `SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig`
	// nrptGPBase is the table Group Policy writes; when it exists, the
	// DNS Client ignores the local one.
	nrptGPBase = `SOFTWARE\Policies\Microsoft\Windows NT\DNSClient\DnsPolicyConfig`
	// nrptHKLM is how reg.exe names HKEY_LOCAL_MACHINE.
	nrptHKLM = `HKLM\`
	// nrptGenericDNSServers is ConfigOptions with only the generic DNS
	// servers option ([MS-GPNRPT] 2.2.2.2).
	nrptGenericDNSServers = 0x8
	// nrptVersion is the rule's version ([MS-GPNRPT] 2.2.2.3).
	nrptVersion = 1
	// nrptMaxNames is the most names one rule holds.
	nrptMaxNames = 50
)

// regKind is a registry value type (winnt.h REG_*).
type regKind uint32

const (
	regSZ      regKind = 1 // REG_SZ
	regDWORD   regKind = 4 // REG_DWORD
	regMultiSZ regKind = 7 // REG_MULTI_SZ
)

// regValue is one registry value to set.
type regValue struct {
	Name  string
	Kind  regKind
	Str   string   // REG_SZ
	Strs  []string // REG_MULTI_SZ
	DWord uint32   // REG_DWORD
}

func (v regValue) String() string {
	switch v.Kind {
	case regSZ:
		return fmt.Sprintf("%s=REG_SZ:%q", v.Name, v.Str)
	case regMultiSZ:
		return fmt.Sprintf("%s=REG_MULTI_SZ:%q", v.Name, v.Strs)
	case regDWORD:
		return fmt.Sprintf("%s=REG_DWORD:%d", v.Name, v.DWord)
	}
	return fmt.Sprintf("%s=?%d", v.Name, v.Kind)
}

// winRegistry is the part of the registry (HKEY_LOCAL_MACHINE only) that
// the NRPT rules need; paths are relative to HKEY_LOCAL_MACHINE.
type winRegistry interface {
	// SetRegValues creates the key (and its parents) when it does not
	// exist and sets these values in it.
	SetRegValues(key string, values []regValue) error
	// DeleteRegKey deletes a key without subkeys; errFileNotFound
	// (ERROR_FILE_NOT_FOUND) when there is none.
	DeleteRegKey(key string) error
	// RegKeyExists reports whether the key exists.
	RegKeyExists(key string) (bool, error)
}

// nrptNamespace is the namespace of the rules' name-based GUIDs (a random
// UUID picked once for Corridor).
var nrptNamespace = [16]byte{0x6b, 0x1e, 0x4f, 0x0c, 0x93, 0x2a, 0x4d, 0x57, 0xa1, 0x08, 0x3c, 0xd2, 0x75, 0x9e, 0x40, 0xf1}

// nrptRuleID is the key name of part (0, 1, ...) of the rule of the
// adapter iface: "{xxxxxxxx-xxxx-5xxx-yxxx-xxxxxxxxxxxx}", a version 5
// UUID (RFC 9562 5.5) of "IFACE#PART" in nrptNamespace.
func nrptRuleID(iface string, part int) string {
	u := nameUUID(nrptNamespace, fmt.Sprintf("%s#%d", iface, part))
	return fmt.Sprintf("{%x-%x-%x-%x-%x}", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// nrptRuleIDOK accepts what nrptRuleID writes: braces, lowercase hex, a
// version 5 UUID.
func nrptRuleIDOK(s string) bool {
	if len(s) != 38 || s[0] != '{' || s[37] != '}' {
		return false
	}
	for i, c := range s[1:37] {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return s[15] == '5' && strings.ContainsRune("89ab", rune(s[20]))
}

// nrptRuleKey is the rule's key, under HKEY_LOCAL_MACHINE.
func nrptRuleKey(id string) string { return nrptLocalBase + `\` + id }

// nrptNames are the Name values of domains: each domain and the suffix of
// the names under it.
func nrptNames(domains []string) []string {
	if len(domains) == 1 && domains[0] == nrptAll {
		return []string{nrptAll}
	}
	var names []string
	for _, d := range domains {
		names = append(names, d, "."+d)
	}
	return names
}

// nrptValues are the values of a rule sending names to servers.
func nrptValues(iface string, servers []netip.Addr, names []string) []regValue {
	s := make([]string, len(servers))
	for i, a := range servers {
		s[i] = a.String()
	}
	return []regValue{
		{Name: "Version", Kind: regDWORD, DWord: nrptVersion},
		{Name: "Name", Kind: regMultiSZ, Strs: names},
		{Name: "GenericDNSServers", Kind: regSZ, Str: strings.Join(s, ";")},
		{Name: "ConfigOptions", Kind: regDWORD, DWord: nrptGenericDNSServers},
		{Name: "IPSECCARestriction", Kind: regSZ},
		{Name: "DisplayName", Kind: regSZ, Str: "Corridor " + iface},
		{Name: "Comment", Kind: regSZ, Str: "Corridor VPN: these names go to the DNS servers of the tunnel on " + iface + "; removed when it disconnects"},
	}
}

// nrptScoped reports whether c's DNS is scoped by NRPT rules: a split
// tunnel with DNS servers and domains.
func nrptScoped(c *NetConfig) bool {
	return !c.FullTunnel && len(c.DNS) > 0 && len(c.Domains) > 0
}

// nrptAll is the NRPT namespace "." that matches every name.
const nrptAll = "."

// nrptCatchAll reports whether c gets a rule for every name: a full tunnel
// with DNS servers. Windows asks the DNS servers of all its interfaces
// (smart multi-homed name resolution), so the adapter's low metric alone
// would still let a name leave through the LAN's server while all traffic
// goes through the tunnel; a "." rule sends every name to the tunnel's
// servers only.
func nrptCatchAll(c *NetConfig) bool {
	return c.FullTunnel && len(c.DNS) > 0
}

// flushDNSCmd flushes the DNS Client's cache, which also makes it read the
// NRPT again.
func flushDNSCmd() Command { return cmd("ipconfig", "/flushdns") }

// windowsNRPTItems are the NRPT rules of c (nrptScoped: its domains;
// nrptCatchAll: every name; otherwise none): one
// item per rule, keyed by its GUID and contents, so that a change of
// servers or domains replaces the rule.
func windowsNRPTItems(c *NetConfig, env *routerEnv) []item {
	var names []string
	switch {
	case nrptScoped(c):
		names = nrptNames(c.Domains)
	case nrptCatchAll(c):
		names = nrptNames([]string{nrptAll})
	default:
		return nil
	}
	servers := make([]string, len(c.DNS))
	for i, a := range c.DNS {
		servers[i] = a.String()
	}
	var items []item
	for part := 0; len(names) > 0; part++ {
		n := min(len(names), nrptMaxNames)
		chunk := names[:n]
		names = names[n:]
		id := nrptRuleID(c.Interface, part)
		var domains []string
		for _, name := range chunk {
			if name == nrptAll || !strings.HasPrefix(name, ".") {
				domains = append(domains, name)
			}
		}
		do := []Command{
			cmd("winipcfg", "set-nrpt", "rule="+id, "interface="+c.Interface,
				"servers="+strings.Join(servers, ","), "domains="+strings.Join(domains, ",")),
			flushDNSCmd(),
		}
		undo := []Command{cmd("reg", "delete", nrptHKLM+nrptRuleKey(id), "/f"), flushDNSCmd()}
		key := fmt.Sprintf("nrpt %s %s %s", id, strings.Join(servers, ","), strings.Join(domains, ","))
		iface := c.Interface
		items = append(items, item{key: key, plan: func() (*change, error) {
			if out, err := env.exec(cmd("winipcfg", "nrpt-group-policy")); err == nil && strings.TrimSpace(string(out)) == "yes" {
				env.log.Warn("Group Policy sets this machine's NRPT rules, and Windows then ignores local ones: "+
					"names under the tunnel's domains may not go to its DNS servers", "interface", iface, "domains", domains)
			}
			return &change{do: do, undo: journalEntry{Undo: undo}}, nil
		}})
	}
	return items
}

// nrptUndoOK accepts the undo commands of an NRPT rule (checkUndoCommand):
//
//	reg delete HKLM\SYSTEM\CurrentControlSet\Services\Dnscache\Parameters\DnsPolicyConfig\{GUID} /f
//	ipconfig /flushdns
func nrptUndoOK(a []string) bool {
	switch {
	case len(a) == 2 && a[0] == "ipconfig":
		return a[1] == "/flushdns"
	case len(a) == 4 && a[0] == "reg":
		id, ok := strings.CutPrefix(a[2], nrptHKLM+nrptLocalBase+`\`)
		return a[1] == "delete" && ok && nrptRuleIDOK(id) && a[3] == "/f"
	}
	return false
}

// parseNRPTCommand reads what winNetRunner executes itself of the NRPT
// commands: "reg delete HKLM\...\{GUID} /f" and "ipconfig /flushdns" as
// nrptUndoOK accepts them (ok false for any other reg or ipconfig
// command, which runs as it is), and
//
//	winipcfg set-nrpt rule={GUID} interface=NAME servers=A,B domains=D,E|.
//	winipcfg nrpt-group-policy
//
// (err for a malformed one: "winipcfg" is no program to fall back on).
func parseNRPTCommand(a []string) (op winNetOp, ok bool, err error) {
	switch a[0] {
	case "ipconfig", "reg":
		if !nrptUndoOK(a) {
			return op, false, nil
		}
		if a[0] == "ipconfig" {
			return winNetOp{kind: "flush-dns-cache"}, true, nil
		}
		return winNetOp{kind: "delete-reg-key", regKey: strings.TrimPrefix(a[2], nrptHKLM)}, true, nil
	}
	if len(a) == 2 && a[1] == "nrpt-group-policy" {
		return winNetOp{kind: "nrpt-group-policy"}, true, nil
	}
	bad := fmt.Errorf("malformed winipcfg command %q", a)
	if len(a) != 6 || a[1] != "set-nrpt" {
		return op, false, bad
	}
	id, ok1 := strings.CutPrefix(a[2], "rule=")
	name, ok2 := strings.CutPrefix(a[3], "interface=")
	servers, ok3 := strings.CutPrefix(a[4], "servers=")
	domains, ok4 := strings.CutPrefix(a[5], "domains=")
	if !ok1 || !ok2 || !ok3 || !ok4 || !nrptRuleIDOK(id) || checkIfaceName(name) != nil || servers == "" || domains == "" {
		return op, false, bad
	}
	op = winNetOp{kind: "set-nrpt", regKey: nrptRuleKey(id), alias: name}
	for _, s := range strings.Split(servers, ",") {
		addr, err := netip.ParseAddr(s)
		if err != nil || addr.Zone() != "" {
			return winNetOp{}, false, fmt.Errorf("bad DNS server %q", s)
		}
		op.servers = append(op.servers, addr)
	}
	if domains == nrptAll {
		op.domains = []string{nrptAll}
		return op, true, nil
	}
	for _, d := range strings.Split(domains, ",") {
		if err := checkDomain(d); err != nil {
			return winNetOp{}, false, err
		}
		op.domains = append(op.domains, d)
	}
	return op, true, nil
}

// applyNRPT runs the NRPT operations, which name no interface.
func (op winNetOp) applyNRPT(n winNet) ([]byte, error) {
	switch op.kind {
	case "set-nrpt":
		return nil, n.SetRegValues(op.regKey, nrptValues(op.alias, op.servers, nrptNames(op.domains)))
	case "delete-reg-key":
		return nil, n.DeleteRegKey(op.regKey)
	case "flush-dns-cache":
		return nil, n.FlushDNSCache()
	case "nrpt-group-policy":
		gp, err := n.RegKeyExists(nrptGPBase)
		if err != nil {
			return nil, err
		}
		if gp {
			return []byte("yes\n"), nil
		}
		return []byte("no\n"), nil
	}
	return nil, fmt.Errorf("unknown operation %q", op.kind)
}
