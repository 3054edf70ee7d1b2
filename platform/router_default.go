//go:build !linux && !darwin && !windows

package platform

import (
	"errors"
	"fmt"
	"runtime"
)

// NewRouter is not implemented on this system; the error matches
// errors.ErrUnsupported. Recover works everywhere: it only replays journals.
func NewRouter(opts ...RouterOption) (Router, error) {
	_ = buildRouterOptions(opts)
	return nil, fmt.Errorf("platform: routes and DNS not supported on %s yet: %w", runtime.GOOS, errors.ErrUnsupported)
}
