//go:build !linux

package desktop

// One instance is a Linux habit here (a D-Bus name); elsewhere every
// start is a first instance.
func claimInstance(func(), bool) (first bool, release func(), err error) {
	return true, func() {}, nil
}
