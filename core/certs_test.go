package core

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core/profile"
	"github.com/corridorvpn/corridor/tunnel/ike"
)

// A failed check of the server's certificate is an authentication error
// that keeps the words naming the check, with a hint.
func TestExplainCertErrors(t *testing.T) {
	server := netip.MustParseAddrPort("192.0.2.1:500")
	for _, c := range []struct {
		err   error
		class Class
		words string
	}{
		{fmt.Errorf("%w: certificate \"CN=x\" does not lead to the CA file given", ike.ErrServerCertUntrusted), ClassAuth, "not signed by a CA we trust"},
		{fmt.Errorf("%w: certificate \"CN=x\" (valid until ...)", ike.ErrServerCertExpired), ClassAuth, "has expired"},
		{fmt.Errorf("%w: we want vpn.example.com", ike.ErrServerIdentity), ClassAuth, "we want vpn.example.com"},
		{ike.ErrServerSignature, ClassAuth, "does not hold that certificate's key"},
		{ike.ErrServerNoCert, ClassAuth, "sent no certificate"},
		{fmt.Errorf("%w: no answer", ike.ErrCertRefused), ClassAuth, "does not accept our certificate"},
		{fmt.Errorf("%w: the private key does not belong", ike.ErrCertConfig), ClassUsage, "does not belong"},
	} {
		e := explain(c.err, server, nil)
		if e.Class != c.class || !strings.Contains(e.Msg, c.words) || strings.HasPrefix(e.Msg, "ike:") || !errors.Is(e, c.err) {
			t.Errorf("%v: class %v msg %q hint %q", c.err, e.Class, e.Msg, e.Hint)
		}
		if c.class == ClassAuth && e.Hint == "" {
			t.Errorf("%v: no hint", c.err)
		}
	}
}

func TestServerHost(t *testing.T) {
	for in, want := range map[string]string{"vpn.example.com": "vpn.example.com", "vpn.example.com:1701": "vpn.example.com", "10.0.0.1": "10.0.0.1"} {
		if got := serverHost(in); got != want {
			t.Errorf("serverHost(%q) = %q", in, got)
		}
	}
}

// ConnectConfigForCert is ConnectConfigFor with the certificate in place
// of the pre-shared key, and the same defaults otherwise.
func TestConnectConfigForCert(t *testing.T) {
	p := profile.NewProfile("office")
	p.Server, p.User, p.IPsec, p.LegacyCrypto = "vpn.example.com", "alice", true, true
	ca := &CertAuth{ServerID: "CN=vpn"}
	got, err := ConnectConfigForCert(p, map[profile.SecretKind]string{profile.SecretPassword: "pw"}, ca)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ConnectConfigFor(p, map[profile.SecretKind]string{profile.SecretPassword: "pw", profile.SecretPSK: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if got.IPsec == nil || got.IPsec.Cert != ca || got.IPsec.PSK != nil || len(got.IPsec.IKE) != len(want.IPsec.IKE) || len(got.IPsec.ESP) != len(want.IPsec.ESP) {
		t.Errorf("IPsec %+v, want the profile's with the certificate", got.IPsec)
	}
	if _, err := ConnectConfigForCert(p, map[profile.SecretKind]string{}, ca); err == nil {
		t.Error("no password: no error")
	}
}
