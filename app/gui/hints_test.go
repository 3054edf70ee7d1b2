package gui

import (
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core"
)

// The window words every hint key itself and never names a command-line
// flag or command.
func TestHintForEveryKey(t *testing.T) {
	for _, k := range core.HintKeys {
		h := hintFor(&core.ErrorInfo{Hint: "core's words", HintKey: k, HintArg: "10.0.0.1"})
		if h == "core's words" || h == "" {
			t.Errorf("no window wording for hint key %q", k)
		}
		for _, cli := range []string{"--", "-v", "corridor "} {
			if strings.Contains(h, cli) {
				t.Errorf("hint for %q names %q: %s", k, cli, h)
			}
		}
	}
	if h := hintFor(&core.ErrorInfo{Hint: "core's words"}); h != "core's words" {
		t.Errorf("a hint without a key: %q", h)
	}
}

// A server insisting on a refused method: the window points at the
// profile's sign-in methods, naming the method to tick.
func TestHintAllowAuth(t *testing.T) {
	if h := hintFor(&core.ErrorInfo{HintKey: core.HintAllowAuth, HintArg: "mschapv2,pap"}); !strings.Contains(h, "tick PAP under Sign-in methods in Edit") {
		t.Errorf("pap: %q", h)
	}
	if h := hintFor(&core.ErrorInfo{HintKey: core.HintAllowAuth, HintArg: "none"}); !strings.Contains(h, `add "none" to the auth list`) {
		t.Errorf("none: %q", h)
	}
}
