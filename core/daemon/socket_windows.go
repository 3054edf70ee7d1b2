package daemon

// DefaultSocket is where the privileged helper listens on Windows: the
// named pipe PipeName (pipe.go), served by the Corridor service.
// Compiled, never run on Windows.
const DefaultSocket = PipeName
