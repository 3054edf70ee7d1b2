package platform

import (
	"fmt"
	"testing"
)

// TestNameUUID: the RFC 9562 Appendix A.4 example (the version 5 UUID of
// "www.example.com" in the DNS namespace), and adapterGUID's properties:
// the same name the same GUID, another name another GUID.
func TestNameUUID(t *testing.T) {
	dnsNS := [16]byte{0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	u := nameUUID(dnsNS, "www.example.com")
	if got, want := fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16]), "2ed6657d-e927-568b-95e1-2665a8aea6a2"; got != want {
		t.Errorf("nameUUID = %s, want %s", got, want)
	}
	a, b := adapterGUID("corridor0"), adapterGUID("corridor1")
	if a != adapterGUID("corridor0") {
		t.Error("adapterGUID of one name changed")
	}
	if a == b {
		t.Error("corridor0 and corridor1 share a GUID")
	}
	for _, g := range [][16]byte{a, b} {
		if g[6]>>4 != 5 || g[8]>>6 != 2 {
			t.Errorf("GUID % x is not a version 5 UUID", g)
		}
	}
}
