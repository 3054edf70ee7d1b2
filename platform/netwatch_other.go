//go:build !linux && !darwin && !windows

package platform

import (
	"context"
	"net/netip"
)

// WatchNetwork is not implemented on this system yet: ErrNoNetworkWatch.
func WatchNetwork(context.Context) (<-chan struct{}, error) { return nil, ErrNoNetworkWatch }

// PathTo is not implemented on this system yet: ErrNoNetworkWatch.
func PathTo(netip.Addr) (string, error) { return "", ErrNoNetworkWatch }
