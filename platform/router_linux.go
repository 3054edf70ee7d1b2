package platform

// NewRouter returns the Router of this system: iproute2, and systemd-resolved or resolv.conf for DNS (linuxcmds.go).
func NewRouter(opts ...RouterOption) (Router, error) {
	return newRouter(linuxItems, opts...), nil
}
