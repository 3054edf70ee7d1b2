package daemon

// DefaultSocket is where the privileged helper listens on Windows: the
// named pipe PipeName (pipe.go), served by the Corridor service.
// Compiled, never run on Windows.
const DefaultSocket = PipeName

// Hints of a helper that does not answer, or refuses the caller (the
// pipe's DACL admits interactive users; the service is "Corridor").
const (
	startHint  = "start it: sc.exe start Corridor (or, as administrator: corridor daemon install)"
	accessHint = "the helper admits users signed in at this computer and administrators: run it from such an account"
)
