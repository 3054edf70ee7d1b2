//go:build !darwin && !windows

package daemon

// DefaultSocket is where the privileged helper listens (Linux: the
// packages' corridor.socket unit creates it; elsewhere the helper does).
const DefaultSocket = "/run/corridor/corridor.sock"
