package daemon

// DefaultSocket is where the privileged helper listens. macOS has no
// /run: /var/run (a link to /private/var/run, emptied at boot) is its
// place for sockets of system daemons; the helper creates the corridor
// directory in it (Listen). The launchd daemon of corridor daemon install
// uses this path; none of it has run on a Mac yet.
const DefaultSocket = "/var/run/corridor/corridor.sock"

// Hints of a helper that does not answer, or refuses the caller (the
// launchd daemon's group is admin: corridor daemon install).
const (
	startHint  = "start it: sudo corridor daemon install (or: sudo corridor daemon)"
	accessHint = "the helper admits administrators (group admin): use an administrator account, or install it with --group GROUP"
)
