package platform

// OpenTUN creates a utun device (the kernel picks utunN; TUN.Name reports
// it), gives it the address Local with peer Peer (a point-to-point /32),
// sets its MTU and brings it up with ifconfig(8); on any error it removes
// the device again. Routes through it are the Router's (router_darwin.go).
// TUNConfig.Name is only honoured when it is "utun" or "utunN".
//
// Compiled and tested with a fake device and a fake Runner on Linux
// (tun_darwin_plan_test.go); it has never run on a Mac.
func OpenTUN(cfg TUNConfig, opts ...Option) (*TUN, error) {
	return openDarwinTUN(cfg, buildOptions(opts))
}
