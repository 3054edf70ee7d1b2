package cli

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/zalando/go-keyring"
)

// A NetworkManager profile imported with IPsec off: the import warns that
// nothing is encrypted, and the secrets stay out of the output.
func TestProfileImportWarnsPlainL2TP(t *testing.T) {
	keyring.MockInit()
	t.Setenv("CORRIDOR_CONFIG_DIR", t.TempDir())
	file := filepath.Join("..", "..", "core", "profile", "testdata", "nm", "plain-l2tp.nmconnection")
	code, stdout, stderr := run(t, "", "profile", "import", file)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, `imported profile "Home"`) {
		t.Errorf("stdout %q", stdout)
	}
	if !strings.Contains(stderr, "corridor: warning: Home: "+profile.PlainL2TPWarning+"\n") {
		t.Errorf("stderr %q lacks the plain L2TP warning", stderr)
	}
	if strings.Contains(stdout+stderr, "hunter2") {
		t.Error("the password shows")
	}
}
