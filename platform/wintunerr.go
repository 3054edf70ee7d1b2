package platform

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
)

// Errors of Wintun, the Windows TUN driver that wireguard-go's tun package
// drives (tun_windows.go). This file has no GOOS suffix so that its tests
// run everywhere; what it reads are the error chains of
// golang.zx2c4.com/wintun, compiled for Windows only:
//
//	tun.CreateTUN -> "Error creating interface: %w"
//	  wintun.CreateAdapter -> lazyProc.Find -> "Error loading wintun.dll DLL: %w"
//	    lazyDLL.Load -> "Unable to load library: %w"
//	      windows.LoadLibraryEx(..., LOAD_LIBRARY_SEARCH_APPLICATION_DIR|LOAD_LIBRARY_SEARCH_SYSTEM32)
//	        -> windows.Errno (a syscall.Errno)
//
// The DLL is looked for next to the executable and in System32 only, never
// in the PATH or the working directory. The words of the Errno are in the
// system's language; the number is not.

// wintunDLL is the name wintun.CreateAdapter loads.
const wintunDLL = "wintun.dll"

// Windows error codes, as windows.Errno values (syscall.Errno on every
// system, so that the mappings here and in windowsnet.go are tested on
// Linux).
const (
	errModNotFound   = syscall.Errno(126)  // ERROR_MOD_NOT_FOUND: no such DLL where it was looked for
	errProcNotFound  = syscall.Errno(127)  // ERROR_PROC_NOT_FOUND: a DLL without WintunCreateAdapter
	errBadExeFormat  = syscall.Errno(193)  // ERROR_BAD_EXE_FORMAT: a DLL of another architecture
	errAccessDenied  = syscall.Errno(5)    // ERROR_ACCESS_DENIED: creating an adapter needs Administrator rights
	errFileNotFound  = syscall.Errno(2)    // ERROR_FILE_NOT_FOUND
	errNotFound      = syscall.Errno(1168) // ERROR_NOT_FOUND: no such route (DeleteIpForwardEntry2)
	errObjectExists  = syscall.Errno(5010) // ERROR_OBJECT_ALREADY_EXISTS: the route exists (CreateIpForwardEntry2)
	errAlreadyExists = syscall.Errno(183)  // ERROR_ALREADY_EXISTS
)

// wintunMissingMessage is what a user without wintun.dll is told.
const wintunMissingMessage = "wintun.dll is missing: put it next to corridor.exe (from the official Wintun release, wintun.net)"

// ErrWintunMissing is matched (errors.Is) by the error of OpenTUN on
// Windows when wintun.dll cannot be found.
var ErrWintunMissing = errors.New(wintunMissingMessage)

// wintunError turns the error of tun.CreateTUN into one a user can act on;
// goarch is the architecture of this build (runtime.GOARCH), which the DLL
// must match. Other errors are wrapped unchanged.
func wintunError(err error, name, goarch string) error {
	if err == nil {
		return nil
	}
	loading := strings.Contains(err.Error(), "Error loading "+wintunDLL+" DLL")
	switch {
	case loading && errors.Is(err, errModNotFound):
		return wintunErr{ErrWintunMissing, err}
	case loading && errors.Is(err, errBadExeFormat):
		return wintunErr{fmt.Errorf("wintun.dll next to corridor.exe is not the %s one: replace it with bin/%s/wintun.dll from the official Wintun release (wintun.net)", wintunArch(goarch), wintunArch(goarch)), err}
	case loading && errors.Is(err, errProcNotFound):
		return wintunErr{fmt.Errorf("wintun.dll next to corridor.exe is not Wintun or too old: replace it with the one from the official Wintun release (wintun.net)"), err}
	case loading:
		var errno syscall.Errno
		if errors.As(err, &errno) {
			return wintunErr{fmt.Errorf("wintun.dll could not be loaded (Windows error %d: %v)", uint(errno), errno), err}
		}
		return wintunErr{errors.New("wintun.dll could not be loaded"), err}
	case errors.Is(err, errAccessDenied):
		return wintunErr{fmt.Errorf("creating the network adapter %q needs Administrator rights: run the Corridor service", name), err}
	}
	return fmt.Errorf("platform: creating the Wintun adapter %q: %w", name, err)
}

// wintunArch is the folder of the Wintun release (bin/amd64, bin/arm64,
// bin/x86, bin/arm) for a GOARCH.
func wintunArch(goarch string) string {
	switch goarch {
	case "386":
		return "x86"
	}
	return goarch
}

// wintunErr says msg and keeps the original chain for errors.Is.
type wintunErr struct {
	msg   error
	cause error
}

func (e wintunErr) Error() string   { return e.msg.Error() }
func (e wintunErr) Unwrap() []error { return []error{e.msg, e.cause} }
