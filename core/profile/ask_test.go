package profile

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

// ask_password and ask_psk round-trip through the file; a file written
// before they existed (no such keys) keeps both off: secrets from the
// keychain, as before.
func TestAskKeysTOMLRoundTrip(t *testing.T) {
	p := validProfile()
	p.AskPassword, p.AskPSK = true, true
	data := encodeProfile(p, profileHeader)
	for _, want := range []string{"\nask_password = true\n", "\nask_psk = true\n"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("file lacks %q:\n%s", want, data)
		}
	}
	q, fatal, warnings := decodeProfile(data, p.Name, true)
	if len(fatal)+len(warnings) > 0 || !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip: %v %v\n%+v\n%+v", fatal, warnings, p, q)
	}
	if got := q.Asked(); !reflect.DeepEqual(got, []SecretKind{SecretPassword, SecretPSK}) {
		t.Errorf("Asked = %v", got)
	}

	// Without the keys (an older file): both off.
	var old []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, "ask_") {
			old = append(old, l)
		}
	}
	q, fatal, warnings = decodeProfile([]byte(strings.Join(old, "\n")), p.Name, true)
	if len(fatal)+len(warnings) > 0 {
		t.Fatalf("decode without the keys: %v %v", fatal, warnings)
	}
	if q.AskPassword || q.AskPSK || len(q.Asked()) != 0 {
		t.Errorf("without the keys: AskPassword %v AskPSK %v", q.AskPassword, q.AskPSK)
	}
	p.AskPassword, p.AskPSK = false, false
	if !reflect.DeepEqual(p, q) {
		t.Errorf("without the keys:\n%+v\n%+v", p, q)
	}

	// Wrong type: an error at its line.
	_, fatal, _ = decodeProfile([]byte("server = \"vpn.example.com\"\nuser = \"a\"\nask_password = \"yes\"\n"), "x", true)
	if len(fatal) != 1 || !strings.Contains(fatal[0].Error(), "line 3: ask_password") {
		t.Errorf("ask_password = \"yes\": %v", fatal)
	}

	// Without IPsec there is no PSK to ask for.
	p.AskPSK, p.IPsec = true, false
	if got := p.Asked(); len(got) != 0 {
		t.Errorf("Asked without IPsec = %v", got)
	}
}

// A profile that asks for its secrets saves on a machine whose keychain
// refuses every call: nothing is to be stored there.
func TestStoreSavesAskProfileWithoutKeychain(t *testing.T) {
	s := newTestStore(t)
	keyring.MockInitWithError(errors.New("dbus: no session bus"))
	defer keyring.MockInit()
	if _, err := s.Secrets().Get("x", SecretPassword); !errors.Is(err, ErrNoKeychain) {
		t.Fatalf("the mock keychain does not refuse: %v", err)
	}
	p := storeProfile("work", "vpn.example.com")
	p.AskPassword, p.AskPSK = true, true
	if err := s.Save(p); err != nil {
		t.Fatalf("Save = %v", err)
	}
	if err := s.ForgetAsked(p); err != nil {
		t.Fatalf("ForgetAsked = %v", err)
	}
	q, err := s.Get("work")
	if err != nil || !q.AskPassword || !q.AskPSK {
		t.Fatalf("Get = %+v, %v", q, err)
	}
}

// Switching a profile to asking deletes the stored secret it asks for,
// and only that one.
func TestStoreForgetAsked(t *testing.T) {
	s := newTestStore(t)
	p := storeProfile("work", "vpn.example.com")
	s.Secrets().Set("work", SecretPassword, "pw-1")
	s.Secrets().Set("work", SecretPSK, "psk-1")
	p.AskPassword = true
	if err := s.ForgetAsked(p); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secrets().Get("work", SecretPassword); !errors.Is(err, ErrNoSecret) {
		t.Errorf("password still stored: %v", err)
	}
	if v, err := s.Secrets().Get("work", SecretPSK); v != "psk-1" || err != nil {
		t.Errorf("psk = %q, %v", v, err)
	}
}
