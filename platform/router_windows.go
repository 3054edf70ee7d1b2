package platform

// NewRouter returns the Router of this system: netsh and PowerShell (windowscmds.go).
func NewRouter(opts ...RouterOption) (Router, error) {
	return newRouter(windowsItems, opts...), nil
}
