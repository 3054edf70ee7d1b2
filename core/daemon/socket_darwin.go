package daemon

// DefaultSocket is where the privileged helper listens. macOS has no
// /run: /var/run (a link to /private/var/run, emptied at boot) is its
// place for sockets of system daemons; the helper creates the corridor
// directory in it (Listen). The launchd daemon of corridor daemon install
// uses this path; none of it has run on a Mac yet.
const DefaultSocket = "/var/run/corridor/corridor.sock"
