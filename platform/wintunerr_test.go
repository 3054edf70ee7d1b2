package platform

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
)

// wireguardCreateTUNError builds the error chain tun.CreateTUN returns on
// Windows when wintun.dll cannot be loaded, with the same wrapping as
// golang.zx2c4.com/wireguard/tun (tun_windows.go) and golang.zx2c4.com/
// wintun (dll.go); errno is what LoadLibraryEx returned.
func wireguardCreateTUNError(errno syscall.Errno) error {
	load := fmt.Errorf("Unable to load library: %w", errno)
	find := fmt.Errorf("Error loading %v DLL: %w", "wintun.dll", load)
	return fmt.Errorf("Error creating interface: %w", find)
}

func TestWintunError(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		goarch string
		want   string
		is     error
	}{
		{"missing", wireguardCreateTUNError(errModNotFound), "amd64",
			"wintun.dll is missing: put it next to corridor.exe (from the official Wintun release, wintun.net)", ErrWintunMissing},
		{"other architecture", wireguardCreateTUNError(errBadExeFormat), "arm64",
			"wintun.dll next to corridor.exe is not the arm64 one: replace it with bin/arm64/wintun.dll from the official Wintun release (wintun.net)", errBadExeFormat},
		{"x86", wireguardCreateTUNError(errBadExeFormat), "386",
			"wintun.dll next to corridor.exe is not the x86 one: replace it with bin/x86/wintun.dll from the official Wintun release (wintun.net)", errBadExeFormat},
		{"not wintun", fmt.Errorf("Error creating interface: %w", fmt.Errorf("Error getting %v address: %w", "WintunCreateAdapter",
			// lazyProc.Find: the DLL loaded, the function is not in it.
			fmt.Errorf("Error loading %v DLL: %w", "wintun.dll", errProcNotFound))), "amd64",
			"wintun.dll next to corridor.exe is not Wintun or too old: replace it with the one from the official Wintun release (wintun.net)", errProcNotFound},
		{"other load failure", wireguardCreateTUNError(syscall.Errno(1114)), "amd64",
			fmt.Sprintf("wintun.dll could not be loaded (Windows error 1114: %v)", syscall.Errno(1114)), syscall.Errno(1114)},
		{"not an administrator", fmt.Errorf("Error creating interface: %w", errAccessDenied), "amd64",
			`creating the network adapter "corridor0" needs Administrator rights: run the Corridor service`, errAccessDenied},
		{"anything else", errors.New("Error starting session: boom"), "amd64",
			`platform: creating the Wintun adapter "corridor0": Error starting session: boom`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := wintunError(tc.err, "corridor0", tc.goarch)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
			if !errors.Is(err, tc.err) {
				t.Errorf("the original error is lost from the chain")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(err, %v) = false", tc.is)
			}
			if tc.is != ErrWintunMissing && errors.Is(err, ErrWintunMissing) {
				t.Errorf("matches ErrWintunMissing")
			}
		})
	}
	if wintunError(nil, "x", "amd64") != nil {
		t.Error("nil error mapped to non-nil")
	}
}
