package profile

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"howett.net/plist"
)

// Apple configuration profiles (.mobileconfig): a property list, XML or
// binary, often signed (a CMS/PKCS #7 envelope around the XML). The VPN
// payloads are dictionaries with PayloadType "com.apple.vpn.managed" in the
// top-level PayloadContent array; an L2TP one has VPNType "L2TP" and the
// sub-dictionaries PPP (CommRemoteAddress, AuthName, AuthPassword), IPSec
// (AuthenticationMethod "SharedSecret", SharedSecret as data or string; or
// "Certificate" with PayloadCertificateUUID naming a
// com.apple.security.pkcs12 payload, see appleCertPayloads),
// IPv4 (OverridePrimary 1: send all traffic) and DNS (ServerAddresses,
// SearchDomains).

const applePayloadVPN = "com.apple.vpn.managed"

// ImportMobileconfig returns every L2TP VPN of an Apple configuration
// profile. The signature of a signed profile is not checked: the profile
// is read only to copy its settings. Other VPN types are skipped and named
// in the error when no L2TP one is left.
func ImportMobileconfig(data []byte) ([]Imported, error) {
	root, err := decodePlist(data)
	if err != nil {
		return nil, err
	}
	var payloads []map[string]any
	if arr, ok := root["PayloadContent"].([]any); ok {
		for _, e := range arr {
			if d, ok := e.(map[string]any); ok {
				payloads = append(payloads, d)
			}
		}
	}
	if _, ok := root["VPNType"]; ok {
		payloads = append(payloads, root) // a bare VPN payload
	}
	var (
		out    []Imported
		others []string
		errs   []error
	)
	certs := appleCertPayloads(payloads)
	for _, pl := range payloads {
		if plString(pl, "PayloadType") != applePayloadVPN {
			continue
		}
		vt := plString(pl, "VPNType")
		if !strings.EqualFold(vt, "L2TP") {
			if vt == "" {
				vt = "unknown"
			}
			others = append(others, vt)
			continue
		}
		im, err := importAppleL2TP(pl, certs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, im)
	}
	if len(out) == 0 {
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		if len(others) > 0 {
			return nil, fmt.Errorf("the profile has no L2TP VPN, only: %s", strings.Join(others, ", "))
		}
		return nil, errors.New("the profile has no VPN payload (PayloadType com.apple.vpn.managed)")
	}
	for i := range out {
		for _, e := range errs {
			out[i].Warnings = append(out[i].Warnings, "another VPN in this profile was skipped: "+e.Error())
		}
	}
	return out, nil
}

// decodePlist reads an XML or binary property list, or the XML one inside
// a signed profile.
func decodePlist(data []byte) (map[string]any, error) {
	var root map[string]any
	_, err := plist.Unmarshal(data, &root)
	if err == nil {
		return root, nil
	}
	// A signed profile is DER (CMS SignedData) with the XML plist as its
	// content, stored as is: take it from "<?xml" to "</plist>".
	if len(data) > 0 && data[0] == 0x30 {
		start := bytes.Index(data, []byte("<?xml"))
		if start < 0 {
			start = bytes.Index(data, []byte("<plist"))
		}
		end := bytes.LastIndex(data, []byte("</plist>"))
		if start >= 0 && end > start {
			var inner map[string]any
			if _, err := plist.Unmarshal(data[start:end+len("</plist>")], &inner); err == nil {
				return inner, nil
			}
		}
		return nil, errors.New("a signed configuration profile whose content is not an XML property list; export it unsigned and import that")
	}
	return nil, fmt.Errorf("not an Apple configuration profile (property list): %w", err)
}

func importAppleL2TP(pl map[string]any, certs appleCerts) (Imported, error) {
	im := Imported{Secrets: map[SecretKind]string{}}
	warn := func(format string, args ...any) { im.Warnings = append(im.Warnings, fmt.Sprintf(format, args...)) }
	ppp := plDict(pl, "PPP")
	ipsec := plDict(pl, "IPSec")
	ipv4 := plDict(pl, "IPv4")
	dns := plDict(pl, "DNS")

	display := plString(pl, "UserDefinedName")
	if display == "" {
		display = plString(pl, "PayloadDisplayName")
	}
	server := strings.TrimSpace(plString(ppp, "CommRemoteAddress"))
	if display == "" {
		display = server
	}
	name := sanitizeProfileName(display)
	if name == "" {
		name = "Imported VPN"
	}
	if name != display {
		warn("renamed %q to %q: profile names use letters A-Z, digits, space and . _ - ( )", display, name)
	}
	p := NewProfile(name)
	p.Server = server
	p.User = plString(ppp, "AuthName")
	if pw := plString(ppp, "AuthPassword"); pw != "" {
		im.Secrets[SecretPassword] = pw
	}
	if eap, ok := ppp["AuthEAPPlugins"].([]any); ok && len(eap) > 0 {
		return Imported{}, fmt.Errorf("VPN %q authenticates with EAP plug-ins (RSA SecurID, ...), which Corridor does not support", display)
	}
	certAuth := false
	if ipsec == nil {
		// Apple's L2TP without an IPSec dictionary is L2TP over IPsec with
		// nothing configured yet; keep IPsec on, the PSK to be entered.
		warn("no IPsec settings in the profile: enter the shared secret (pre-shared key) in Corridor")
	} else {
		switch m := plString(ipsec, "AuthenticationMethod"); m {
		case "Certificate":
			certAuth = true
		case "SharedSecret", "":
			switch s := ipsec["SharedSecret"].(type) {
			case []byte:
				if len(s) > 0 {
					im.Secrets[SecretPSK] = string(s)
				}
			case string:
				if s != "" {
					im.Secrets[SecretPSK] = s
				}
			}
		default:
			return Imported{}, fmt.Errorf("VPN %q authenticates IPsec with %q; Corridor supports a shared secret (pre-shared key) or a certificate", display, m)
		}
	}
	if plBool(ipv4, "OverridePrimary") {
		p.FullTunnel = true
	} else {
		// macOS and iOS then route only the classful network of the
		// address the server assigns.
		p.FullTunnel = false
		p.ClassfulRoute = true
	}
	for _, a := range plStrings(dns, "ServerAddresses") {
		if addr, err := netip.ParseAddr(strings.TrimSpace(a)); err == nil && addr.Is4() {
			p.DNSServers = append(p.DNSServers, addr.String())
		} else {
			warn("left out DNS server %q: not an IPv4 address", a)
		}
	}
	if len(p.DNSServers) > 0 {
		p.DNS = DNSCustom
	}
	domains := append(plStrings(dns, "SearchDomains"), plStrings(dns, "SupplementalMatchDomains")...)
	seen := map[string]bool{}
	for _, d := range domains {
		d = strings.TrimSpace(d)
		if d == "" || seen[strings.ToLower(d)] {
			continue
		}
		seen[strings.ToLower(d)] = true
		if validHostName(strings.TrimSuffix(d, ".")) {
			p.Domains = append(p.Domains, d)
		} else {
			warn("left out search domain %q", d)
		}
	}
	if od := plDict(pl, "VPN"); plBool(od, "OnDemandEnabled") {
		warn("VPN On Demand rules are not supported and were left out")
	}
	im.Profile = p
	if certAuth {
		certs.importFor(&im, ipsec)
	}
	return im, nil
}

func plDict(d map[string]any, key string) map[string]any {
	v, _ := d[key].(map[string]any)
	return v
}

func plString(d map[string]any, key string) string {
	switch v := d[key].(type) {
	case string:
		return v
	case []byte:
		return string(v)
	}
	return ""
}

func plStrings(d map[string]any, key string) []string {
	var out []string
	if arr, ok := d[key].([]any); ok {
		for _, e := range arr {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// plBool reads a flag written as <true/>, <integer>1</integer> or a string.
func plBool(d map[string]any, key string) bool {
	switch v := d[key].(type) {
	case bool:
		return v
	case uint64:
		return v != 0
	case int64:
		return v != 0
	case float64:
		return v != 0
	case string:
		switch strings.ToLower(v) {
		case "1", "true", "yes":
			return true
		}
	}
	return false
}

// Certificate payloads of an Apple profile.
const (
	applePayloadPKCS12 = "com.apple.security.pkcs12" // an identity: PayloadContent is a PKCS#12 file, Password optional
	applePayloadRoot   = "com.apple.security.root"   // a CA certificate (DER or PEM)
	applePayloadPKCS1  = "com.apple.security.pkcs1"  // a certificate (DER)
	applePayloadPEM    = "com.apple.security.pem"    // a certificate (PEM)
)

// appleCerts are a profile's certificate payloads: identities (PKCS#12)
// by PayloadUUID, and the CA certificates the profile installs.
type appleCerts struct {
	identities map[string]map[string]any
	order      []string // identities' UUIDs, in file order
	ca         []*x509.Certificate
	bad        []string // payloads whose certificate does not parse
	// others says, by PayloadUUID, what each certificate payload
	// without a private key is (root, pkcs1, pem), for a
	// PayloadCertificateUUID that names one.
	others map[string]string
}

func appleCertPayloads(payloads []map[string]any) appleCerts {
	ac := appleCerts{identities: map[string]map[string]any{}, others: map[string]string{}}
	for _, pl := range payloads {
		switch t := plString(pl, "PayloadType"); t {
		case applePayloadPKCS12:
			u := plString(pl, "PayloadUUID")
			ac.identities[u] = pl
			ac.order = append(ac.order, u)
		case applePayloadRoot, applePayloadPKCS1, applePayloadPEM:
			what := "the certificate payload"
			if t == applePayloadRoot {
				what = "the CA (root) certificate payload"
			}
			if u := plString(pl, "PayloadUUID"); u != "" {
				ac.others[u] = fmt.Sprintf("%s %q (%s)", what, appleCertName(pl), t)
			}
			b, _ := pl["PayloadContent"].([]byte)
			if b == nil {
				b = []byte(plString(pl, "PayloadContent"))
			}
			cs, err := parseCertsPEMOrDER(b)
			if err != nil {
				ac.bad = append(ac.bad, appleCertName(pl))
				continue
			}
			for _, c := range cs {
				// A root payload is a CA by what it is for; another
				// certificate payload counts when it says it is one.
				if t == applePayloadRoot || c.IsCA {
					ac.ca = append(ac.ca, c)
				}
			}
		}
	}
	return ac
}

func appleCertName(pl map[string]any) string {
	for _, k := range []string{"PayloadDisplayName", "PayloadCertificateFileName", "PayloadUUID"} {
		if v := plString(pl, k); v != "" {
			return v
		}
	}
	return "unnamed"
}

// importFor gives an L2TP payload that authenticates IPsec with a
// certificate (IPSec AuthenticationMethod "Certificate") the identity its
// PayloadCertificateUUID names (or the profile's only one), the CAs of the
// profile, and IPSec RemoteIdentifier as the server identity. A PKCS#12
// payload without its Password (as Apple advises) stays pending
// (im.Cert), with a warning that its password must be given.
func (ac appleCerts) importFor(im *Imported, ipsec map[string]any) {
	delete(im.Secrets, SecretPSK)
	name := im.Profile.Name
	for _, b := range ac.bad {
		im.Warnings = append(im.Warnings, fmt.Sprintf("left out the certificate payload %q: its certificate does not parse", b))
	}
	u := plString(ipsec, "PayloadCertificateUUID")
	id, ok := ac.identities[u]
	if !ok && u == "" && len(ac.order) == 1 {
		id, ok = ac.identities[ac.order[0]], true
	}
	if !ok {
		where := "this profile holds no certificate payload (com.apple.security.pkcs12) for it"
		if other, found := ac.others[u]; found {
			// RFC 2409 §5.1: signing needs the private key, which only
			// an identity (PKCS#12) payload carries.
			where = fmt.Sprintf("its PayloadCertificateUUID %s names %s, a certificate without its private key, not this computer's identity (a com.apple.security.pkcs12 payload, certificate and key)", u, other)
		} else if u != "" {
			where = fmt.Sprintf("its certificate (PayloadCertificateUUID %s) is not in this profile", u)
		}
		im.Warnings = append(im.Warnings, fmt.Sprintf("IPsec authenticates with a certificate, but %s: give it with corridor profile edit %q --p12 FILE --p12-password-file FILE", where, name))
		return
	}
	p12, _ := id["PayloadContent"].([]byte)
	c := &ImportedCert{From: fmt.Sprintf("payload %q", appleCertName(id)), P12: p12, Password: plString(id, "Password"), ServerID: strings.TrimSpace(plString(ipsec, "RemoteIdentifier"))}
	if len(ac.ca) > 0 {
		c.CA = CertsPEM(ac.ca)
	}
	if len(p12) == 0 {
		im.Warnings = append(im.Warnings, fmt.Sprintf("IPsec authenticates with the certificate %s, which is empty: give it with corridor profile edit %q --p12 FILE --p12-password-file FILE", c.From, name))
		return
	}
	im.pend(c, fmt.Sprintf("IPsec authenticates with the certificate %s, a PKCS#12 file protected by a password this profile does not hold: its password must be given when importing (corridor profile import FILE --p12-password-file PASSWORD-FILE; the app asks for it); until then the profile has no certificate", c.From))
	// An empty password, or the one the payload holds, opens it now.
	if err := im.OpenCert(nil, ""); err != nil && c.Password != "" {
		im.Warnings = append(im.Warnings, fmt.Sprintf("the password in the profile does not open the certificate %s: %v", c.From, err))
	}
}
