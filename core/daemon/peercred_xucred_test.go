package daemon

import "testing"

// The checks of the macOS peer credentials; the getsockopt that fills
// the struct (peercred_darwin.go) has never run on a Mac.
func TestXucredIDs(t *testing.T) {
	groups := make([]uint32, 16)  // cr_groups[NGROUPS]
	groups[0], groups[1] = 20, 80 // staff first: the effective gid; admin
	if uid, gid, err := xucredIDs(0, 501, 2, groups); err != nil || uid != 501 || gid != 20 {
		t.Errorf("xucredIDs = %d, %d, %v; want 501, 20", uid, gid, err)
	}
	if _, _, err := xucredIDs(1, 501, 2, groups); err == nil {
		t.Error("another struct version was accepted")
	}
	if _, _, err := xucredIDs(0, 501, 0, groups); err == nil {
		t.Error("a struct without groups was accepted")
	}
	if _, _, err := xucredIDs(0, 0, 1, nil); err == nil {
		t.Error("an empty group list was accepted")
	}
}
