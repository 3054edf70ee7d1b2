package platform

import (
	"fmt"
	"strings"
)

// The journal directory on Windows, %ProgramData%\Corridor\journal, and who
// may write to it. %ProgramData% lets every user create folders and files
// (its ACL grants BUILTIN\Users "create files / append data" on folders),
// so a directory that merely inherits it could hold a journal planted by a
// user, which the service would then replay as SYSTEM. The Router therefore
// creates the directory with a protected ACL of its own and refuses one
// whose owner or ACL is not what it would have set (journaldir_windows.go,
// compiled only, never run on Windows). This file has no GOOS suffix: the
// rules below are tested on Linux on a parsed form of the descriptor.
//
// Where it is checked: NewRouter on Windows (router_windows.go), before the
// Router can adopt a journal, and Recover (router.go) before it replays one:
// checkJournalDir alone would not do, its owner check on Windows
// (fileowner_other.go) accepts everything, so Recover there calls
// checkJournalDirACL (checkJournalDirOS) too.

// journalDirDACL is the protected DACL (no inheritance from %ProgramData%)
// the directory is created with: full control for LocalSystem (SY) and
// BUILTIN\Administrators (BA), inherited by the journals in it (OICI), and
// read/list/traverse for BUILTIN\Users (BU; 0x1200a9 = FILE_GENERIC_READ |
// FILE_GENERIC_EXECUTE), so a user can see what would be replayed.
const journalDirDACL = "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"

// journalDirSDDL is the whole descriptor the directory is meant to have:
// owned by the Administrators. At creation only the DACL is given, and the
// owner is the creating token's default (SYSTEM for the service, the
// Administrators for an elevated administrator); both pass the check.
const journalDirSDDL = "O:BAG:SY" + journalDirDACL

// Well-known SIDs, as windows.SID.String writes them.
const (
	sidLocalSystem    = "S-1-5-18"
	sidAdministrators = "S-1-5-32-544"
)

// ACE types and flags and the access rights that write (winnt.h).
const (
	aceTypeAllowed  = 0x0 // ACCESS_ALLOWED_ACE_TYPE
	aceTypeDenied   = 0x1 // ACCESS_DENIED_ACE_TYPE
	aceInheritOnly  = 0x8 // INHERIT_ONLY_ACE
	aceObjectInhert = 0x1 // OBJECT_INHERIT_ACE
	aceContainerInh = 0x2 // CONTAINER_INHERIT_ACE

	// winWriteRights are the rights that change the directory, a journal
	// in it, or who may: FILE_WRITE_DATA/ADD_FILE, FILE_APPEND_DATA/
	// ADD_SUBDIRECTORY, FILE_WRITE_EA, FILE_DELETE_CHILD,
	// FILE_WRITE_ATTRIBUTES, DELETE, WRITE_DAC, WRITE_OWNER,
	// MAXIMUM_ALLOWED, GENERIC_ALL, GENERIC_WRITE.
	winWriteRights = 0x2 | 0x4 | 0x10 | 0x40 | 0x100 | 0x10000 | 0x40000 | 0x80000 | 0x02000000 | 0x10000000 | 0x40000000
)

// winACE is one access control entry of a DACL, its SID as a string.
type winACE struct {
	Type  uint8
	Flags uint8
	Mask  uint32
	SID   string
}

// winWriterOK reports whether sid may own and write to the journal
// directory: SYSTEM, the Administrators, or self, the user this process
// runs as (SYSTEM for the service; as on Unix, a process of another user,
// such as a test, can only replay with its own rights what it wrote
// itself).
func winWriterOK(sid, self string) bool {
	return sid == sidLocalSystem || sid == sidAdministrators || self != "" && sid == self
}

// checkJournalACL accepts the descriptor of the journal directory (or of a
// journal in it): owned by SYSTEM or the Administrators (or self), with a DACL
// (a missing one grants everyone everything) in which no entry allows a
// write right to anyone else. Entries that only inherit (INHERIT_ONLY_ACE)
// count too: they are what a journal created in the directory gets.
// Deny entries only take rights away and are ignored.
func checkJournalACL(path, owner, self string, haveDACL bool, aces []winACE) error {
	if !winWriterOK(owner, self) {
		return untrusted(path, "owned by %s, not by SYSTEM (%s) or the Administrators (%s)", owner, sidLocalSystem, sidAdministrators)
	}
	if !haveDACL {
		return untrusted(path, "it has no DACL: everyone may write to it")
	}
	var bad []string
	for _, a := range aces {
		if a.Type != aceTypeAllowed || winWriterOK(a.SID, self) || a.Mask&winWriteRights == 0 {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s (access mask %#x)", a.SID, a.Mask))
	}
	if len(bad) > 0 {
		return untrusted(path, "its ACL lets %s write to it; only SYSTEM and the Administrators may (expected %s)", strings.Join(bad, ", "), journalDirSDDL)
	}
	return nil
}
