package profile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/corridorvpn/corridor/platform"
)

// newTestStore opens a store in a temp folder with go-keyring's in-memory
// mock behind NewKeyring.
func newTestStore(t *testing.T) *Store {
	t.Helper()
	keyring.MockInit()
	s, err := OpenStore(filepath.Join(t.TempDir(), "corridor"), NewKeyring())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func storeProfile(name, server string) Profile {
	p := NewProfile(name)
	p.Server, p.User = server, "alice"
	return p
}

// noTempFiles fails if a write left anything but profile files behind.
func noTempFiles(t *testing.T, s *Store) {
	t.Helper()
	ents, err := os.ReadDir(s.profilesDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".toml") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestStoreSaveListGet(t *testing.T) {
	s := newTestStore(t)
	a := storeProfile("work", "vpn.example.com")
	a.FullTunnel, a.Routes = false, []string{"10.0.0.0/8"}
	b := storeProfile("Home (2)", "203.0.113.5")
	b.IPsec, b.L2TPPort = false, 1701
	for _, p := range []Profile{a, b} {
		if err := s.Save(p); err != nil {
			t.Fatal(err)
		}
	}
	list, errs := s.List()
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(list) != 2 || !reflect.DeepEqual(list[0], b) || !reflect.DeepEqual(list[1], a) {
		t.Fatalf("List = %+v", list)
	}
	got, err := s.Get("work")
	if err != nil || !reflect.DeepEqual(got, a) {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	// Saving again replaces.
	a.MTU = 1280
	if err := s.Save(a); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("work"); got.MTU != 1280 {
		t.Errorf("MTU after update: %d", got.MTU)
	}
	noTempFiles(t, s)

	// Modes: files 0600, folders 0700.
	for _, path := range []string{s.path("work"), s.path("Home (2)")} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", path, fi.Mode(), err)
		}
	}
	for _, d := range []string{s.Dir(), s.profilesDir()} {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v", d, fi.Mode(), err)
		}
	}
	// The file documents its format.
	data, _ := os.ReadFile(s.path("work"))
	if !strings.HasPrefix(string(data), "# Corridor VPN profile.") || !strings.Contains(string(data), "No secret is ever stored here") {
		t.Errorf("header missing:\n%s", data)
	}
}

func TestStoreOpenRestrictsExistingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "corridor")
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	keyring.MockInit()
	if _, err := OpenStore(dir, nil); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "profiles")} {
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %v", d, fi.Mode())
		}
	}
}

func TestStoreDefaultConfigDir(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg-test")
	t.Setenv("HOME", "/tmp/home-test")
	d, err := DefaultConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.UserConfigDir()
	if d != filepath.Join(want, "corridor") {
		t.Errorf("%s", d)
	}
}

func TestStoreAtomicWriteFailureKeepsOldFile(t *testing.T) {
	s := newTestStore(t)
	p := storeProfile("work", "vpn.example.com")
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.path("work"))
	renameErr := errors.New("injected: disk full")
	// The store writes through platform.WriteFileAtomic, whose own test
	// fails its rename; here the whole write fails.
	s.writeFile = func(string, []byte, os.FileMode) error { return renameErr }
	p.Server = "other.example.com"
	if err := s.Save(p); !errors.Is(err, renameErr) {
		t.Fatalf("Save = %v", err)
	}
	after, _ := os.ReadFile(s.path("work"))
	if string(before) != string(after) {
		t.Error("the old file changed")
	}
	noTempFiles(t, s)
	// A new profile that fails to save leaves nothing at all.
	if err := s.Save(storeProfile("new", "vpn.example.com")); err == nil {
		t.Fatal("Save succeeded")
	}
	if _, err := os.Stat(s.path("new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("new: %v", err)
	}
	noTempFiles(t, s)
	s.writeFile = platform.WriteFileAtomic
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get("work"); got.Server != "other.example.com" {
		t.Error("save after recovery")
	}
}

func TestStoreReadOnlyFolder(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores folder permissions; TestStoreAtomicWriteFailureKeepsOldFile injects the failure instead")
	}
	s := newTestStore(t)
	p := storeProfile("work", "vpn.example.com")
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(s.path("work"))
	os.Chmod(s.profilesDir(), 0o500)
	defer os.Chmod(s.profilesDir(), 0o700)
	p.MTU = 1300
	if err := s.Save(p); err == nil {
		t.Fatal("Save into a read-only folder succeeded")
	}
	after, _ := os.ReadFile(s.path("work"))
	if string(before) != string(after) {
		t.Error("the old file changed")
	}
}

func TestStoreMalformedFileLosesNothingElse(t *testing.T) {
	s := newTestStore(t)
	for _, n := range []string{"alpha", "omega"} {
		if err := s.Save(storeProfile(n, "vpn.example.com")); err != nil {
			t.Fatal(err)
		}
	}
	// A hand edit broke line 7 of one file.
	bad := "# edited by hand\nname = \"broken\"\nserver = \"vpn.example.com\"\nuser = \"bob\"\nipsec = true\nmtu = 1400\nroutes = [\"10.0.0.0/8\",\nfull_tunnel = false\n"
	os.WriteFile(s.path("broken"), []byte(bad), 0o600)
	// Another one has a value out of range on line 4.
	os.WriteFile(s.path("badmtu"), []byte("server = \"vpn.example.com\"\nuser = \"bob\"\n\nmtu = 9000\n"), 0o600)
	// Another one has a key this version does not know: still listed.
	os.WriteFile(s.path("future"), []byte("server = \"vpn.example.com\"\nuser = \"bob\"\nquantum = true\n"), 0o600)
	// A file name that is no profile name.
	os.WriteFile(filepath.Join(s.profilesDir(), "bad@name.toml"), []byte("server = \"x\"\n"), 0o600)
	// Not profiles: ignored.
	os.WriteFile(filepath.Join(s.profilesDir(), ".work.123.tmp"), []byte("garbage"), 0o600)
	os.WriteFile(filepath.Join(s.profilesDir(), "README"), []byte("garbage"), 0o600)

	list, errs := s.List()
	var names []string
	for _, p := range list {
		names = append(names, p.Name)
	}
	if !reflect.DeepEqual(names, []string{"alpha", "future", "omega"}) {
		t.Errorf("listed %v", names)
	}
	var text []string
	for _, e := range errs {
		text = append(text, e.Error())
		var fe *ProfileFileError
		if !errors.As(e, &fe) {
			t.Errorf("%T %v", e, e)
		}
	}
	joined := strings.Join(text, "\n")
	for _, want := range []string{
		"profiles/broken.toml line 8: ",
		"profiles/badmtu.toml line 4: mtu: must be 0 (automatic) or between 576 and 1500",
		"profiles/future.toml line 3: quantum: unknown key (ignored)",
		"profiles/bad@name.toml: the file name is not a valid profile name",
	} {
		if !strings.Contains(joined, want) {
			t.Errorf("no error %q in:\n%s", want, joined)
		}
	}
	if len(errs) != 4 {
		t.Errorf("%d errors:\n%s", len(errs), joined)
	}
	// Get of the broken one says where, too.
	if _, err := s.Get("broken"); err == nil || !strings.Contains(err.Error(), "profiles/broken.toml line 8") {
		t.Errorf("Get broken: %v", err)
	}
	// The name key is informational: the file name wins.
	if p, err := s.Get("future"); err != nil || p.Name != "future" {
		t.Errorf("Get future: %+v %v", p, err)
	}
}

func TestStoreGetMissing(t *testing.T) {
	s := newTestStore(t)
	for _, n := range []string{"nope", "../etc/passwd", "", "a/b"} {
		if _, err := s.Get(n); !errors.Is(err, ErrNoProfile) {
			t.Errorf("Get(%q) = %v", n, err)
		}
	}
	if err := s.Delete("nope"); !errors.Is(err, ErrNoProfile) {
		t.Errorf("Delete = %v", err)
	}
	if err := s.Rename("nope", "other"); !errors.Is(err, ErrNoProfile) {
		t.Errorf("Rename = %v", err)
	}
}

func TestStoreSaveRejectsInvalidAndCaseTwins(t *testing.T) {
	s := newTestStore(t)
	bad := storeProfile("work", "")
	var ves ValidationErrors
	if err := s.Save(bad); !errors.As(err, &ves) || ves.For("server") == "" {
		t.Errorf("Save invalid = %v", err)
	}
	if err := s.Save(storeProfile("work", "vpn.example.com")); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(storeProfile("WORK", "vpn.example.com")); !errors.As(err, &ves) || !strings.Contains(ves.For("name"), "already exists") {
		t.Errorf("Save case twin = %v", err)
	}
}

func setSecrets(t *testing.T, sec Secrets, profile string, vals map[SecretKind]string) {
	t.Helper()
	for k, v := range vals {
		if err := sec.Set(profile, k, v); err != nil {
			t.Fatal(err)
		}
	}
}

func secretsOf(t *testing.T, sec Secrets, profile string) map[SecretKind]string {
	t.Helper()
	m, err := readSecrets(sec, profile)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestStoreRenameMovesSecrets(t *testing.T) {
	s := newTestStore(t)
	p := storeProfile("work", "vpn.example.com")
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	vals := map[SecretKind]string{SecretPSK: "psk-1", SecretPassword: "pw-1"}
	setSecrets(t, s.Secrets(), "work", vals)
	// A stale secret left under the new name by some earlier profile must
	// not be inherited.
	setSecrets(t, s.Secrets(), "office", map[SecretKind]string{SecretL2TP: "stale"})

	if err := s.Rename("work", "office"); err != nil {
		t.Fatal(err)
	}
	if got := secretsOf(t, s.Secrets(), "office"); !reflect.DeepEqual(got, vals) {
		t.Errorf("new secrets %v", got)
	}
	if got := secretsOf(t, s.Secrets(), "work"); len(got) != 0 {
		t.Errorf("old secrets left: %v", got)
	}
	if _, err := os.Stat(s.path("work")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("old file left")
	}
	got, err := s.Get("office")
	if err != nil || got.Name != "office" || got.Server != p.Server {
		t.Errorf("Get new = %+v, %v", got, err)
	}
	noTempFiles(t, s)

	// Renaming onto an existing profile is refused and changes nothing.
	if err := s.Save(storeProfile("home", "203.0.113.1")); err != nil {
		t.Fatal(err)
	}
	var ves ValidationErrors
	if err := s.Rename("office", "Home"); !errors.As(err, &ves) {
		t.Errorf("Rename onto existing = %v", err)
	}
	if got := secretsOf(t, s.Secrets(), "office"); !reflect.DeepEqual(got, vals) {
		t.Errorf("secrets after refused rename %v", got)
	}
	// An invalid new name is refused.
	if err := s.Rename("office", "a/b"); !errors.As(err, &ves) || ves.For("name") == "" {
		t.Errorf("Rename to invalid = %v", err)
	}

	// Case only.
	if err := s.Rename("office", "Office"); err != nil {
		t.Fatal(err)
	}
	if got := secretsOf(t, s.Secrets(), "Office"); !reflect.DeepEqual(got, vals) {
		t.Errorf("case rename secrets %v", got)
	}
	if list, _ := s.List(); len(list) != 2 || list[1].Name != "Office" {
		t.Errorf("after case rename: %+v", list)
	}
}

func TestStoreRenameFailureKeepsOldName(t *testing.T) {
	s := newTestStore(t)
	if err := s.Save(storeProfile("work", "vpn.example.com")); err != nil {
		t.Fatal(err)
	}
	vals := map[SecretKind]string{SecretPSK: "psk-1", SecretPassword: "pw-1"}
	setSecrets(t, s.Secrets(), "work", vals)
	s.writeFile = func(string, []byte, os.FileMode) error { return errors.New("injected") }
	if err := s.Rename("work", "office"); err == nil {
		t.Fatal("Rename succeeded")
	}
	if got := secretsOf(t, s.Secrets(), "work"); !reflect.DeepEqual(got, vals) {
		t.Errorf("old secrets %v", got)
	}
	if got := secretsOf(t, s.Secrets(), "office"); len(got) != 0 {
		t.Errorf("new secrets %v", got)
	}
	if _, err := s.Get("work"); err != nil {
		t.Error(err)
	}
	noTempFiles(t, s)
}

func TestStoreDeleteRemovesSecrets(t *testing.T) {
	s := newTestStore(t)
	if err := s.Save(storeProfile("work", "vpn.example.com")); err != nil {
		t.Fatal(err)
	}
	setSecrets(t, s.Secrets(), "work", map[SecretKind]string{SecretPSK: "k", SecretPassword: "p", SecretL2TP: "t"})
	if err := s.Delete("work"); err != nil {
		t.Fatal(err)
	}
	if got := secretsOf(t, s.Secrets(), "work"); len(got) != 0 {
		t.Errorf("secrets left: %v", got)
	}
	if _, err := s.Get("work"); !errors.Is(err, ErrNoProfile) {
		t.Errorf("Get after delete: %v", err)
	}
}

func TestStoreDeleteWithoutKeychainKeepsProfile(t *testing.T) {
	s := newTestStore(t)
	if err := s.Save(storeProfile("work", "vpn.example.com")); err != nil {
		t.Fatal(err)
	}
	keyring.MockInitWithError(errors.New("dbus: no session bus"))
	defer keyring.MockInit()
	err := s.Delete("work")
	if !errors.Is(err, ErrNoKeychain) {
		t.Fatalf("Delete = %v", err)
	}
	if _, err := s.Get("work"); err != nil {
		t.Errorf("profile gone: %v", err)
	}
	if err := s.Rename("work", "x"); !errors.Is(err, ErrNoKeychain) {
		t.Errorf("Rename = %v", err)
	}
	if _, err := s.Get("work"); err != nil {
		t.Errorf("profile gone after rename: %v", err)
	}
}

func TestStoreImportPicksFreeName(t *testing.T) {
	s := newTestStore(t)
	if err := s.Save(storeProfile("Office", "vpn.example.com")); err != nil {
		t.Fatal(err)
	}
	im := Imported{Profile: storeProfile("office", "vpn2.example.com"),
		Secrets: map[SecretKind]string{SecretPSK: "imported-psk", SecretPassword: "imported-pw", SecretL2TP: "tunnel-secret"}}
	p, err := s.Import(im)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "office (2)" || !p.L2TPSecret {
		t.Errorf("imported as %+v", p)
	}
	if got := secretsOf(t, s.Secrets(), "office (2)"); !reflect.DeepEqual(got, im.Secrets) {
		t.Errorf("secrets %v", got)
	}
	// Stale secrets under the free name are not inherited.
	setSecrets(t, s.Secrets(), "office (3)", map[SecretKind]string{SecretL2TP: "stale"})
	im.Secrets = map[SecretKind]string{SecretPassword: "pw3"}
	im.Profile.L2TPSecret = false
	p, err = s.Import(im)
	if err != nil || p.Name != "office (3)" {
		t.Fatalf("%+v %v", p, err)
	}
	if got := secretsOf(t, s.Secrets(), "office (3)"); !reflect.DeepEqual(got, im.Secrets) {
		t.Errorf("secrets %v", got)
	}
	// A long name keeps within MaxProfileName.
	long := strings.Repeat("x", MaxProfileName)
	for i := 0; i < 2; i++ {
		p, err = s.Import(Imported{Profile: storeProfile(long, "vpn.example.com")})
		if err != nil {
			t.Fatal(err)
		}
	}
	if p.Name != strings.Repeat("x", MaxProfileName-4)+" (2)" {
		t.Errorf("long: %q", p.Name)
	}
}

func TestStoreImportWithoutKeychainSavesNothing(t *testing.T) {
	s := newTestStore(t)
	keyring.MockInitWithError(errors.New("org.freedesktop.DBus.Error.ServiceUnknown"))
	defer keyring.MockInit()
	_, err := s.Import(Imported{Profile: storeProfile("work", "vpn.example.com"), Secrets: map[SecretKind]string{SecretPSK: "k"}})
	if !errors.Is(err, ErrNoKeychain) {
		t.Fatalf("Import = %v", err)
	}
	if list, _ := s.List(); len(list) != 0 {
		t.Errorf("saved %v", list)
	}
}

// TestStoreFilesNeverHoldSecrets saves, renames, imports and exports
// profiles with secrets and scans every file the store wrote.
func TestStoreFilesNeverHoldSecrets(t *testing.T) {
	s := newTestStore(t)
	secrets := []string{"Very-Secret-PSK-42", "Pa55word-Never-On-Disk", "L2TP-Tunnel-Secret-7"}
	p := storeProfile("work", "vpn.example.com")
	if err := s.Save(p); err != nil {
		t.Fatal(err)
	}
	setSecrets(t, s.Secrets(), "work", map[SecretKind]string{SecretPSK: secrets[0], SecretPassword: secrets[1], SecretL2TP: secrets[2]})
	if err := s.Rename("work", "office"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"office.nmconnection", "old-psk.nmconnection"} {
		data, err := os.ReadFile(filepath.Join("testdata", "nm", f))
		if err != nil {
			t.Fatal(err)
		}
		im, err := ImportNMConnection(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range im.Secrets {
			secrets = append(secrets, v)
		}
		if _, err := s.Import(im); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(filepath.Join("testdata", "apple", "l2tp.mobileconfig"))
	ims, err := ImportMobileconfig(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, im := range ims {
		for _, v := range im.Secrets {
			secrets = append(secrets, v)
		}
		if _, err := s.Import(im); err != nil {
			t.Fatal(err)
		}
	}
	list, errs := s.List()
	if len(errs) > 0 || len(list) != 5 {
		t.Fatalf("%d profiles, %v", len(list), errs)
	}
	var exports []byte
	for _, p := range list {
		exports = append(exports, ExportProfile(p)...)
	}
	files := 0
	filepath.WalkDir(s.Dir(), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, _ := os.ReadFile(path)
		for _, sec := range secrets {
			if strings.Contains(string(b), sec) {
				t.Errorf("%s contains a secret", path)
			}
		}
		return nil
	})
	if files != 5 {
		t.Errorf("%d files", files)
	}
	for _, sec := range secrets {
		if strings.Contains(string(exports), sec) {
			t.Error("an export contains a secret")
		}
	}
}
