package platform

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"unsafe"

	"golang.org/x/sys/windows"
)

// secureJournalDir creates the journal directory with the ACL of
// journalDirDACL, when it does not exist, and then checks the owner and
// ACL of the directory that is there (checkJournalACL), so that a
// directory planted by a user stops the Router before it replays or writes
// anything. Compiled for windows only: it has never run on Windows.
//
// Creating it with the descriptor (CreateDirectory with security
// attributes) leaves no moment in which the directory exists with the ACL
// inherited from %ProgramData%.
func secureJournalDir(dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			return fmt.Errorf("platform: journal directory: %w", err)
		}
		sd, err := windows.SecurityDescriptorFromString(journalDirDACL)
		if err != nil {
			return fmt.Errorf("platform: journal directory ACL: %w", err)
		}
		sa := &windows.SecurityAttributes{Length: uint32(unsafe.Sizeof(windows.SecurityAttributes{})), SecurityDescriptor: sd}
		p, err := windows.UTF16PtrFromString(dir)
		if err != nil {
			return fmt.Errorf("platform: journal directory: %w", err)
		}
		if err := windows.CreateDirectory(p, sa); err != nil && !errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			return fmt.Errorf("platform: creating the journal directory %s: %w", dir, err)
		}
	}
	if err := checkJournalDir(dir); err != nil {
		return err
	}
	return checkJournalDirACL(dir)
}

// checkJournalDirACL reads the owner and DACL of path and checks them.
func checkJournalDirACL(path string) error {
	sd, err := windows.GetNamedSecurityInfo(path, windows.SE_FILE_OBJECT,
		windows.OWNER_SECURITY_INFORMATION|windows.DACL_SECURITY_INFORMATION)
	if err != nil {
		return fmt.Errorf("platform: reading the ACL of %s: %w", path, err)
	}
	owner, _, err := sd.Owner()
	if err != nil || owner == nil {
		return untrusted(path, "its owner cannot be read (%v)", err)
	}
	dacl, _, err := sd.DACL()
	if err != nil && !errors.Is(err, windows.ERROR_OBJECT_NOT_FOUND) {
		return fmt.Errorf("platform: reading the ACL of %s: %w", path, err)
	}
	var aces []winACE
	if dacl != nil {
		for i := uint32(0); i < uint32(dacl.AceCount); i++ {
			var ace *windows.ACCESS_ALLOWED_ACE
			if err := windows.GetAce(dacl, i, &ace); err != nil {
				return fmt.Errorf("platform: reading the ACL of %s: %w", path, err)
			}
			e := winACE{Type: ace.Header.AceType, Flags: ace.Header.AceFlags, Mask: uint32(ace.Mask)}
			// Allowed and denied ACEs share this layout: the SID starts at
			// SidStart. Other types (object, callback ACEs) are not set by
			// Corridor; their SID is not read and they are refused.
			switch e.Type {
			case aceTypeAllowed, aceTypeDenied:
				e.SID = (*windows.SID)(unsafe.Pointer(&ace.SidStart)).String()
			default:
				return untrusted(path, "its ACL has an entry of type %d, which Corridor does not set", e.Type)
			}
			aces = append(aces, e)
		}
	}
	self := ""
	if u, err := windows.GetCurrentProcessToken().GetTokenUser(); err == nil {
		self = u.User.Sid.String()
	}
	return checkJournalACL(path, owner.String(), self, dacl != nil, aces)
}

// checkJournalDirOS checks the journal directory's ACL before Recover
// replays anything in it (checkJournalDir's owner check accepts every
// directory on Windows). Compiled only, never run on Windows.
func checkJournalDirOS(dir string) error { return checkJournalDirACL(dir) }
