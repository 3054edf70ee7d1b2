package gui

import (
	"strings"

	"github.com/corridorvpn/corridor/core"
)

// hintFor is the advice of a failure in the window's own terms: the
// fields of Edit and the Log tab rather than the command line's flags.
// Advice without a key the window words itself is core's hint as it is.
func hintFor(info *core.ErrorInfo) string {
	switch info.HintKey {
	case core.HintProbe:
		return "check the address, and that no firewall drops UDP ports 500 and 4500; servers also stay silent to proposals they refuse: ask your administrator which ones it accepts"
	case core.HintProposals:
		return "ask your administrator which proposals the server accepts and enter them under IKE proposals and ESP proposals in Edit; an old server may need Allow legacy algorithms (3DES, SHA1, MODP1024)"
	case core.HintESPProposal:
		return "the server may refuse every ESP proposal without saying so; ask which ones it accepts, or enter aes128-sha1 under ESP proposals in Edit"
	case core.HintAuthMethod:
		return "allow another sign-in method in Edit if your administrator says it is safe"
	case core.HintAllowAuth:
		if info.HintArg == "none" {
			return "Edit cannot allow a server that asks for no sign-in; if you trust this server, add \"none\" to the auth list in the profile's file"
		}
		args := strings.Split(info.HintArg, ",")
		for label, token := range authNames {
			if token == args[len(args)-1] {
				return "if you trust this server, tick " + label + " under Sign-in methods in Edit"
			}
		}
		return "if you trust this server, tick the method it asks for under Sign-in methods in Edit"
	case core.HintTraceAdmin:
		return "save the diagnostics (Log tab) and send them to the server's administrator"
	case core.HintTraceProtocol:
		return "save the diagnostics (Log tab) and send them to the server's administrator or to us"
	case core.HintTracePPP:
		return "the server's PPP side may be down or overloaded; try again, and send the diagnostics (Log tab) to its administrator if it persists"
	case core.HintTraceTimeout:
		return "the server answers but does not complete the connection; the Log tab shows where it stops"
	case core.HintTraceReport:
		return "save the diagnostics (Log tab) and report them"
	case core.HintStorePassword, core.HintStorePSK, core.HintStoreL2TPSecret:
		return storeHint
	case core.HintDisconnectFirst:
		return "disconnect " + info.HintArg + " first, or give the profiles routes in Edit that do not overlap"
	}
	return info.Hint
}

// storeHint is what to do about a secret missing from the keychain.
const storeHint = "open Edit, enter it and save: Corridor keeps it in your system keychain"
