package cli

import (
	"fmt"
	"strings"

	"github.com/corridorvpn/corridor/core"
)

// hint is the advice of a failure in the command line's own terms: the
// flags and commands to use. key and arg come with a core.Error (or a
// core.ErrorInfo from the helper); without a key, hint is core's own
// wording as it is.
func hint(key core.HintKey, arg, coreHint string) string {
	switch key {
	case core.HintProbe:
		return "check the address, and that no firewall drops UDP ports 500 and 4500; servers also stay silent to proposals they refuse: try corridor probe " + arg
	case core.HintProposals:
		return "ask your administrator which proposals the server accepts and set them with --ike/--esp; an old server may need --legacy-crypto (3DES, SHA1, MODP1024)"
	case core.HintESPProposal:
		return "the server may refuse every ESP proposal without saying so; ask which ones it accepts, or try --esp aes128-sha1"
	case core.HintAuthMethod:
		return "allow another method with --auth if your administrator says it is safe"
	case core.HintAllowAuth:
		return "if you trust this server, allow it with --auth " + arg + " (or auth = " + tomlList(arg) + " in the profile)"
	case core.HintTraceAdmin:
		return "run with -v and send the trace to the server's administrator"
	case core.HintTraceProtocol:
		return "run with -v and send the trace to the server's administrator or to us"
	case core.HintTracePPP:
		return "the server's PPP side may be down or overloaded; try again, and send the -v trace to its administrator if it persists"
	case core.HintTraceTimeout:
		return "the server answers but does not complete the connection; run with -v to see where it stops"
	case core.HintTraceReport:
		return "run with -v and report the trace"
	case core.HintStorePassword:
		return "store it with: corridor profile edit " + quoteName(arg) + " --password-file FILE"
	case core.HintStorePSK:
		return "store it with: corridor profile edit " + quoteName(arg) + " --psk-file FILE"
	case core.HintStoreL2TPSecret:
		return "store it with: corridor profile edit " + quoteName(arg) + " --l2tp-secret-file FILE"
	case core.HintDisconnectFirst:
		return "disconnect it first with: corridor down " + quoteName(arg) + " (or give the profiles routes that do not overlap)"
	}
	return coreHint
}

// tomlList writes "mschapv2,pap" as a profile file's list: ["mschapv2", "pap"].
func tomlList(csv string) string {
	items := strings.Split(csv, ",")
	for i, it := range items {
		items[i] = fmt.Sprintf("%q", it)
	}
	return "[" + strings.Join(items, ", ") + "]"
}

// quoteName quotes a profile name with spaces for a shell.
func quoteName(n string) string {
	for _, c := range n {
		if c == ' ' {
			return fmt.Sprintf("%q", n)
		}
	}
	return n
}
