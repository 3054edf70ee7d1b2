//go:build !darwin && !windows

package daemon

// DefaultSocket is where the privileged helper listens (Linux: the
// packages' corridor.socket unit creates it; elsewhere the helper does).
const DefaultSocket = "/run/corridor/corridor.sock"

// Hints of a helper that does not answer, or refuses the caller.
const (
	startHint  = "start it: sudo systemctl start corridor (or: sudo corridor daemon)"
	accessHint = "add your user to the corridor group: sudo usermod -aG corridor $USER, then log in again"
)
