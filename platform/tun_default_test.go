//go:build !linux && !darwin && !windows

package platform

import (
	"errors"
	"net/netip"
	"runtime"
	"testing"
)

func TestOpenTUNNotSupported(t *testing.T) {
	_, err := OpenTUN(TUNConfig{MTU: 1400, Local: netip.MustParseAddr("192.168.30.10")})
	if !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("err = %v, want errors.ErrUnsupported", err)
	}
	if want := "platform: TUN not supported on " + runtime.GOOS + " yet"; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %q", err, want)
	}
}
