//go:build linux

package platform

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKillSwitchCommands: Block journals its undo before it applies the
// table; Unblock removes both; a crash in between is undone by Recover,
// whose trust check accepts exactly this undo.
func TestKillSwitchCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	r := &fakeRunner{}
	k, err := NewKillSwitch("corridor0", WithRouterRunner(r), WithJournalDir(dir), WithRouterLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Block(netip.MustParseAddr("203.0.113.10")); err != nil {
		t.Fatal(err)
	}
	cmds := r.take()
	if len(cmds) != 1 || !strings.HasPrefix(cmds[0], "nft -f - <<EOF\ntable inet corridor_ks_corridor0 {") ||
		!strings.Contains(cmds[0], "policy drop;") || !strings.Contains(cmds[0], "ip daddr 203.0.113.10 accept") ||
		!strings.Contains(cmds[0], "ip saddr 203.0.113.10 accept") || !strings.Contains(cmds[0], `oifname "lo" accept`) {
		t.Fatalf("Block ran %q", cmds)
	}
	j, err := readTrustedJournal(journalPath(dir, "killswitch-corridor0"), "")
	if err != nil || len(j.Entries) != 1 || j.Entries[0].Undo[0].String() != "nft delete table inet corridor_ks_corridor0" {
		t.Fatalf("journal %+v %v", j, err)
	}
	if err := k.Block(netip.MustParseAddr("203.0.113.10")); err != nil || len(r.take()) != 0 {
		t.Error("a second Block ran commands")
	}
	if err := k.Unblock(); err != nil {
		t.Fatal(err)
	}
	if cmds := r.take(); len(cmds) != 1 || cmds[0] != "nft delete table inet corridor_ks_corridor0" {
		t.Errorf("Unblock ran %q", cmds)
	}
	if _, err := os.Stat(journalPath(dir, "killswitch-corridor0")); !os.IsNotExist(err) {
		t.Errorf("journal left after Unblock: %v", err)
	}

	// A crash while blocking: Recover lifts the block.
	k2, _ := NewKillSwitch("corridor1", WithRouterRunner(r), WithJournalDir(dir))
	if err := k2.Block(netip.MustParseAddr("203.0.113.10")); err != nil {
		t.Fatal(err)
	}
	r.take()
	if err := Recover(WithRouterRunner(r), WithJournalDir(dir), WithRouterLogger(testLogger(t))); err != nil {
		t.Fatal(err)
	}
	if cmds := r.take(); len(cmds) != 1 || cmds[0] != "nft delete table inet corridor_ks_corridor1" {
		t.Errorf("Recover ran %q", cmds)
	}
	// A table already gone (crash before nft ran) is no failure.
	k3, _ := NewKillSwitch("corridor2", WithRouterRunner(r), WithJournalDir(dir))
	k3.Block(netip.MustParseAddr("203.0.113.10"))
	r.setFail(map[string]error{"nft delete": exitErr(1, "Error: Could not process rule: No such file or directory")})
	if err := Recover(WithRouterRunner(r), WithJournalDir(dir)); err != nil {
		t.Errorf("Recover of a table that is gone: %v", err)
	}
}

func TestKillSwitchUndoTrust(t *testing.T) {
	for _, tt := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"nft", "delete", "table", "inet", "corridor_ks_corridor0"}, true},
		{[]string{"nft", "delete", "table", "inet", "filter"}, false},
		{[]string{"nft", "flush", "ruleset"}, false},
		{[]string{"nft", "delete", "table", "inet", "corridor_ks_-x"}, false},
		{[]string{"nft", "delete", "table", "ip", "corridor_ks_corridor0"}, false},
	} {
		err := checkUndoCommand(Command{Args: tt.args})
		if (err == nil) != tt.ok {
			t.Errorf("%v: %v, want ok %v", tt.args, err, tt.ok)
		}
	}
	if err := checkUndoCommand(Command{Args: []string{"nft", "delete", "table", "inet", "corridor_ks_corridor0"}, Stdin: "x"}); err == nil {
		t.Error("an nft undo with stdin was accepted")
	}
	if _, err := NewKillSwitch("bad name"); err == nil {
		t.Error("a bad device name was accepted")
	}
}
