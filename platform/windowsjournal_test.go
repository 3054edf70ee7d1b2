package platform

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// parseTestDACL reads the DACL part of an SDDL string, for the few
// abbreviations Corridor's descriptor and these tests use ("FA", "GA",
// hex masks; SY, BA, BU, CO, AU, WD), into winACE entries as
// journaldir_windows.go makes them from the real descriptor, so that the
// SDDL constant and the check are tested against each other on Linux.
// Windows parses the real one (SecurityDescriptorFromString); that is
// compiled only.
func parseTestDACL(t *testing.T, sddl string) (protected bool, aces []winACE) {
	t.Helper()
	_, d, ok := strings.Cut(sddl, "D:")
	if !ok {
		t.Fatalf("no DACL in %q", sddl)
	}
	protected = strings.HasPrefix(d, "P")
	d = strings.TrimLeft(d, "PAI")
	sids := map[string]string{"SY": sidLocalSystem, "BA": sidAdministrators, "BU": "S-1-5-32-545", "CO": "S-1-3-0", "AU": "S-1-5-11", "WD": "S-1-1-0"}
	rights := map[string]uint32{"FA": 0x1f01ff, "GA": 0x10000000, "GR": 0x80000000, "GX": 0x20000000}
	for d != "" {
		if d[0] != '(' {
			t.Fatalf("bad DACL at %q", d)
		}
		end := strings.IndexByte(d, ')')
		f := strings.Split(d[1:end], ";")
		d = d[end+1:]
		if len(f) != 6 {
			t.Fatalf("bad ACE %q", f)
		}
		var a winACE
		switch f[0] {
		case "A":
			a.Type = aceTypeAllowed
		case "D":
			a.Type = aceTypeDenied
		default:
			t.Fatalf("ACE type %q", f[0])
		}
		for fl := f[1]; fl != ""; fl = fl[2:] {
			a.Flags |= map[string]uint8{"OI": aceObjectInhert, "CI": aceContainerInh, "IO": aceInheritOnly}[fl[:2]]
		}
		if m, err := strconv.ParseUint(f[2], 0, 32); err == nil {
			a.Mask = uint32(m)
		} else {
			for r := f[2]; r != ""; r = r[2:] {
				a.Mask |= rights[r[:2]]
			}
		}
		if a.SID = sids[f[5]]; a.SID == "" {
			a.SID = f[5]
		}
		aces = append(aces, a)
	}
	return protected, aces
}

func TestJournalDirSDDL(t *testing.T) {
	// Golden: what the directory is created with, and what it should look
	// like in "icacls"/Get-Acl. Changing these changes who may plant a
	// journal that the service replays as SYSTEM.
	if want := "D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"; journalDirDACL != want {
		t.Errorf("journalDirDACL = %q, want %q", journalDirDACL, want)
	}
	if want := "O:BAG:SYD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"; journalDirSDDL != want {
		t.Errorf("journalDirSDDL = %q, want %q", journalDirSDDL, want)
	}
	protected, aces := parseTestDACL(t, journalDirSDDL)
	if !protected {
		t.Error("the DACL is not protected: it would inherit %ProgramData%'s, which lets Users create files")
	}
	if len(aces) != 3 || aces[2].Mask&winWriteRights != 0 {
		t.Errorf("Users may write: %+v", aces)
	}
	for _, owner := range []string{sidLocalSystem, sidAdministrators} {
		if err := checkJournalACL(`C:\ProgramData\Corridor\journal`, owner, "", true, aces); err != nil {
			t.Errorf("the ACL Corridor sets, owner %s: %v", owner, err)
		}
	}
}

func TestCheckJournalACL(t *testing.T) {
	const user = "S-1-5-21-1-2-3-1001"
	const dir = `C:\ProgramData\Corridor\journal`
	for _, tc := range []struct {
		name  string
		owner string
		self  string
		nilD  bool
		sddl  string
		ok    bool
	}{
		{"Corridor's", sidLocalSystem, "", false, journalDirDACL, true},
		{"with a deny entry for Users", sidAdministrators, "", false, journalDirDACL + "(D;OICI;FA;;;BU)", true},
		// What a directory made with os.MkdirAll under %ProgramData% inherits.
		{"inherited from ProgramData", sidLocalSystem, "", false,
			"D:AI(A;OICIID;FA;;;SY)(A;OICIID;FA;;;BA)(A;OICIIOID;GA;;;CO)(A;OICIID;0x1200a9;;;BU)(A;CIID;0x100116;;;BU)", false},
		{"owned by a user", user, "", false, journalDirDACL, false},
		{"owned by the process's own user (tests)", user, user, false, journalDirDACL + "(A;OICI;FA;;;" + user + ")", true},
		{"no DACL", sidLocalSystem, "", true, "D:", false},
		{"everyone full control", sidLocalSystem, "", false, journalDirDACL + "(A;;FA;;;WD)", false},
		{"authenticated users may add files", sidLocalSystem, "", false, journalDirDACL + "(A;;0x2;;;AU)", false},
		{"inherit-only write for creator owner", sidLocalSystem, "", false, journalDirDACL + "(A;OICIIO;GA;;;CO)", false},
		{"users may change the ACL", sidLocalSystem, "", false, journalDirDACL + "(A;;0x40000;;;BU)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, aces := parseTestDACL(t, tc.sddl)
			err := checkJournalACL(dir, tc.owner, tc.self, !tc.nilD, aces)
			if (err == nil) != tc.ok {
				t.Errorf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrUntrustedJournal) {
				t.Errorf("err = %v, want ErrUntrustedJournal", err)
			}
		})
	}
}
