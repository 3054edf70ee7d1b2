package platform

import (
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pfEnableOut = "No ALTQ support in kernel\nALTQ related functions disabled\npf enabled\nToken : 18446744073709551\n"

func newTestPFKillSwitch(t *testing.T, r *fakeRunner, dir, iface string) *KillSwitch {
	t.Helper()
	env := &routerEnv{routerOptions: buildRouterOptions([]RouterOption{WithRouterRunner(r), WithJournalDir(dir), WithRouterLogger(testLogger(t))})}
	impl, err := newPFKillSwitch(iface, env)
	if err != nil {
		t.Fatal(err)
	}
	return &KillSwitch{impl: impl, log: slog.New(slog.DiscardHandler)}
}

// TestPFKillSwitchCommands: the macOS kill switch loads its anchor from
// stdin, then enables pf with a reference, journaling the undo before
// each step; Unblock flushes the anchor and releases the reference; a
// crash while blocking is undone by Recover. Fake runner only: never run
// on a Mac.
func TestPFKillSwitchCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "journal")
	r := &fakeRunner{outputs: map[string]string{"pfctl -E": pfEnableOut}}
	k := newTestPFKillSwitch(t, r, dir, "utun5")
	if err := k.Block(netip.MustParseAddr("203.0.113.10")); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Block", r.take(), []string{
		"pfctl -a com.apple/corridor_ks_utun5 -f - <<EOF\n" +
			"pass quick on lo0 all\n" +
			"pass quick inet from any to 203.0.113.10\n" +
			"pass quick inet from 203.0.113.10 to any\n" +
			"pass out quick proto { udp tcp } from any to any port 53\n" +
			"pass quick inet proto udp from any port 68 to any port 67\n" +
			"pass quick inet proto udp from any port 67 to any port 68\n" +
			"pass quick inet6 proto icmp6 all\n" +
			"block drop quick all\n" +
			"EOF",
		"pfctl -E",
	})
	j, err := readTrustedJournal(journalPath(dir, "killswitch-utun5"), "")
	if err != nil || len(j.Entries) != 1 {
		t.Fatalf("journal %+v %v", j, err)
	}
	var undo []string
	for _, c := range j.Entries[0].Undo {
		undo = append(undo, c.String())
	}
	wantList(t, "journal", undo, []string{"pfctl -a com.apple/corridor_ks_utun5 -F rules", "pfctl -X 18446744073709551"})
	if err := k.Block(netip.MustParseAddr("203.0.113.10")); err != nil || len(r.take()) != 0 {
		t.Error("a second Block ran commands")
	}
	if err := k.Unblock(); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Unblock", r.take(), []string{"pfctl -a com.apple/corridor_ks_utun5 -F rules", "pfctl -X 18446744073709551"})
	if _, err := os.Stat(journalPath(dir, "killswitch-utun5")); !os.IsNotExist(err) {
		t.Errorf("journal left after Unblock: %v", err)
	}

	// A crash while blocking: Recover lifts the block and releases pf,
	// even when the reference is gone already.
	k2 := newTestPFKillSwitch(t, r, dir, "utun6")
	if err := k2.Block(netip.MustParseAddr("203.0.113.10")); err != nil {
		t.Fatal(err)
	}
	r.take()
	r.setFail(map[string]error{"pfctl -X": exitErr(1, "pfctl: DIOCSTOPREF: Invalid argument")})
	if err := Recover(WithRouterRunner(r), WithJournalDir(dir), WithRouterLogger(testLogger(t))); err != nil {
		t.Fatal(err)
	}
	wantList(t, "Recover", r.take(), []string{"pfctl -a com.apple/corridor_ks_utun6 -F rules", "pfctl -X 18446744073709551"})
}

// TestPFKillSwitchFailures: pf refusing the rules or the enable, or an
// enable without a token, is an error that leaves no rules and no
// journal behind.
func TestPFKillSwitchFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		outputs map[string]string
		fail    map[string]error
		want    string
		ran     []string
	}{
		{name: "rules refused", fail: map[string]error{"pfctl -a com.apple/corridor_ks_utun5 -f": exitErr(1, "stdin:2: syntax error")},
			want: "syntax error", ran: []string{"pfctl -a", "pfctl -a com.apple/corridor_ks_utun5 -F rules"}},
		{name: "enable refused", fail: map[string]error{"pfctl -E": exitErr(1, "pfctl: /dev/pf: Permission denied")},
			want: "Permission denied", ran: []string{"pfctl -a", "pfctl -E", "pfctl -a com.apple/corridor_ks_utun5 -F rules"}},
		{name: "no token", outputs: map[string]string{"pfctl -E": "pf enabled\n"},
			want: "no token", ran: []string{"pfctl -a", "pfctl -E", "pfctl -a com.apple/corridor_ks_utun5 -F rules"}},
		{name: "bad token", outputs: map[string]string{"pfctl -E": "Token : 12; rm -rf /\n"},
			want: "bad token", ran: []string{"pfctl -a", "pfctl -E", "pfctl -a com.apple/corridor_ks_utun5 -F rules"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "journal")
			r := &fakeRunner{outputs: tc.outputs, fail: tc.fail}
			k := newTestPFKillSwitch(t, r, dir, "utun5")
			err := k.Block(netip.MustParseAddr("203.0.113.10"))
			if err == nil || !strings.Contains(err.Error(), tc.want) || k.Blocking() {
				t.Fatalf("Block: %v (blocking %v), want an error with %q", err, k.Blocking(), tc.want)
			}
			got := r.take()
			if len(got) != len(tc.ran) {
				t.Fatalf("ran %q, want %q", got, tc.ran)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tc.ran[i]) {
					t.Errorf("command %d: %q, want %q...", i, got[i], tc.ran[i])
				}
			}
			if _, err := os.Stat(journalPath(dir, "killswitch-utun5")); !os.IsNotExist(err) {
				t.Errorf("journal left: %v", err)
			}
		})
	}
	if _, err := newPFKillSwitch("utun5; x", &routerEnv{}); err == nil {
		t.Error("a bad device name was accepted")
	}
}

// TestPFUndoTrust: exactly the pf kill switch's undo may be journaled.
func TestPFUndoTrust(t *testing.T) {
	for _, tt := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"pfctl", "-a", "com.apple/corridor_ks_utun5", "-F", "rules"}, true},
		{[]string{"pfctl", "-X", "18446744073709551"}, true},
		{[]string{"pfctl", "-a", "com.apple/corridor_ks_utun5", "-F", "all"}, false}, // would flush every state of the system
		{[]string{"pfctl", "-a", "com.apple", "-F", "rules"}, false},
		{[]string{"pfctl", "-a", "com.apple/*", "-F", "rules"}, false},
		{[]string{"pfctl", "-a", "com.apple/corridor_ks_../x", "-F", "rules"}, false},
		{[]string{"pfctl", "-F", "all"}, false},
		{[]string{"pfctl", "-d"}, false},
		{[]string{"pfctl", "-X", "-1"}, false},
		{[]string{"pfctl", "-X", "0x10"}, false},
		{[]string{"pfctl", "-f", "/etc/pf.conf"}, false},
	} {
		err := checkUndoCommand(Command{Args: tt.args})
		if (err == nil) != tt.ok {
			t.Errorf("%v: %v, want ok %v", tt.args, err, tt.ok)
		}
	}
	if err := checkUndoCommand(Command{Args: []string{"pfctl", "-X", "5"}, Stdin: "x"}); err == nil {
		t.Error("a pfctl undo with stdin was accepted")
	}
}
