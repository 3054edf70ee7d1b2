package daemon

import "fmt"

// xucredVersion is XUCRED_VERSION of macOS's <sys/ucred.h>.
const xucredVersion = 0

// xucredIDs reads the uid and the effective gid (the first group) of a
// BSD struct xucred, as LOCAL_PEERCRED returns it, and refuses one of
// another version or without groups rather than guessing. It has no GOOS
// suffix so that its test runs on Linux; peercred_darwin.go uses it.
func xucredIDs(version, uid uint32, ngroups int, groups []uint32) (uint32, uint32, error) {
	if version != xucredVersion {
		return 0, 0, fmt.Errorf("peer credentials: struct xucred version %d, want %d", version, xucredVersion)
	}
	if ngroups < 1 || len(groups) < 1 {
		return 0, 0, fmt.Errorf("peer credentials: struct xucred without groups (%d)", ngroups)
	}
	return uid, groups[0], nil
}
