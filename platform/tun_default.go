//go:build !linux && !darwin && !windows

package platform

import (
	"errors"
	"runtime"
)

// notSupportedError is returned by OpenTUN where no implementation exists.
type notSupportedError struct{ goos string }

func (e notSupportedError) Error() string {
	return "platform: TUN not supported on " + e.goos + " yet"
}

func (notSupportedError) Unwrap() error { return errors.ErrUnsupported }

// OpenTUN is not implemented on this system (Linux, macOS and Windows
// have tun_linux.go, tun_darwin.go and tun_windows.go); the error matches
// errors.ErrUnsupported.
func OpenTUN(cfg TUNConfig, opts ...Option) (*TUN, error) {
	if _, err := cfg.validate(); err != nil {
		return nil, err
	}
	_ = buildOptions(opts)
	return nil, notSupportedError{runtime.GOOS}
}
