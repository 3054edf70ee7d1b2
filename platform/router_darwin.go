package platform

// NewRouter returns the Router of this system: route(8) and scutil(8) (darwincmds.go).
func NewRouter(opts ...RouterOption) (Router, error) {
	return newRouter(darwinItems, opts...), nil
}
