package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core"
)

// The command line words every hint key itself, naming its flags.
func TestHintEveryKey(t *testing.T) {
	for _, k := range core.HintKeys {
		if h := hint(k, "office", "core's words"); h == "core's words" || h == "" {
			t.Errorf("no CLI wording for hint key %q", k)
		}
	}
	if h := hint("", "", "core's words"); h != "core's words" {
		t.Errorf("a hint without a key: %q", h)
	}
}

func TestFailWordsHints(t *testing.T) {
	cases := []struct {
		err  *core.Error
		want string
	}{
		{&core.Error{Class: core.ClassNoAnswer, Msg: "no answer", Hint: "core", HintKey: core.HintProbe, HintArg: "10.0.0.1"},
			"hint: check the address, and that no firewall drops UDP ports 500 and 4500; servers also stay silent to proposals they refuse: try corridor probe 10.0.0.1\n"},
		{&core.Error{Class: core.ClassProtocol, Msg: "m", HintKey: core.HintProposals},
			"hint: ask your administrator which proposals the server accepts and set them with --ike/--esp; an old server may need --legacy-crypto (3DES, SHA1, MODP1024)\n"},
		{&core.Error{Class: core.ClassUsage, Msg: "m", HintKey: core.HintStorePSK, HintArg: "home office"},
			"hint: store it with: corridor profile edit \"home office\" --psk-file FILE\n"},
		{&core.Error{Class: core.ClassAuth, Msg: "the server asked for PAP", HintKey: core.HintAllowAuth, HintArg: "mschapv2,pap"},
			"hint: if you trust this server, allow it with --auth mschapv2,pap (or auth = [\"mschapv2\", \"pap\"] in the profile)\n"},
		{&core.Error{Class: core.ClassAuth, Msg: "the server asked for no authentication at all", HintKey: core.HintAllowAuth, HintArg: "none"},
			"hint: if you trust this server, allow it with --auth none (or auth = [\"none\"] in the profile)\n"},
		{&core.Error{Class: core.ClassUsage, Msg: "m", HintKey: core.HintDisconnectFirst, HintArg: "home office"},
			"hint: disconnect it first with: corridor down \"home office\" (or give the profiles routes that do not overlap)\n"},
		{&core.Error{Class: core.ClassLocal, Msg: "m", Hint: "start it: sudo systemctl start corridor"},
			"hint: start it: sudo systemctl start corridor\n"},
	}
	for _, c := range cases {
		var w bytes.Buffer
		code := fail(&w, c.err)
		if !strings.HasSuffix(w.String(), c.want) || code != classExit[c.err.Class] {
			t.Errorf("fail(%v) wrote %q (exit %d), want ending %q", c.err, w.String(), code, c.want)
		}
	}
	var w bytes.Buffer
	if code := fail(&w, errors.New("plain")); code != ExitInternal || w.String() != "corridor: plain\n" {
		t.Errorf("plain error: %q %d", w.String(), code)
	}
}
