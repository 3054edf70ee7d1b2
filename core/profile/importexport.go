package profile

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/corridorvpn/corridor/tunnel/ike"
)

// Imported is a profile read from another program's file, with the
// secrets that file held. Store.Import saves the profile and puts the
// secrets in the keychain; the profile itself never holds them.
// Warnings says, in plain words, what could not be carried over.
type Imported struct {
	Profile  Profile               `json:"profile"`
	Secrets  map[SecretKind]string `json:"-"`
	Warnings []string              `json:"warnings,omitempty"`
	// Cert, when set, is certificate authentication the file asks for
	// that needs a password or files to carry over (see OpenCert).
	Cert *ImportedCert `json:"-"`
}

// ExportProfile returns p as a TOML file to share: the profile file format
// under a header saying that secrets are not included (a Profile holds
// none). ImportProfile reads it back.
func ExportProfile(p Profile) []byte {
	return encodeProfile(p, exportHeader)
}

// ImportProfile reads a Corridor profile file, as ExportProfile writes it.
// The name comes from its name key. It has no secrets.
func ImportProfile(data []byte) (Imported, error) { return importProfile(data, "") }

func importProfile(data []byte, defaultName string) (Imported, error) {
	p, fatal, warnings := decodeProfile(data, defaultName, false)
	if len(fatal) > 0 {
		return Imported{}, fmt.Errorf("not a valid Corridor profile: %w", errors.Join(fatal...))
	}
	im := Imported{Profile: p, Secrets: map[SecretKind]string{}}
	for _, w := range warnings {
		im.Warnings = append(im.Warnings, w.Error())
	}
	return im, nil
}

// ImportFile reads any file Corridor imports, by its name's extension or,
// failing that, its contents: a NetworkManager keyfile (.nmconnection), an
// Apple configuration profile (.mobileconfig, XML or binary plist, signed
// or not), or a Corridor profile (.toml). An Apple profile may hold
// several VPNs.
func ImportFile(filename string, data []byte) ([]Imported, error) {
	one := func(im Imported, err error) ([]Imported, error) {
		if err != nil {
			return nil, err
		}
		return []Imported{im}, nil
	}
	switch strings.ToLower(filepath.Ext(filename)) {
	case ".nmconnection":
		return one(ImportNMConnection(data))
	case ".mobileconfig", ".plist":
		return ImportMobileconfig(data)
	case ".toml":
		return one(importProfile(data, sanitizeProfileName(strings.TrimSuffix(filepath.Base(filename), filepath.Ext(filename)))))
	}
	trimmed := bytes.TrimLeft(data, " \t\r\n\xef\xbb\xbf")
	switch {
	case bytes.HasPrefix(trimmed, []byte("bplist")), bytes.HasPrefix(trimmed, []byte("<?xml")),
		bytes.HasPrefix(trimmed, []byte("<plist")), bytes.HasPrefix(trimmed, []byte("<!DOCTYPE plist")),
		len(trimmed) > 0 && trimmed[0] == 0x30: // DER: a signed profile
		return ImportMobileconfig(data)
	case bytes.Contains(data, []byte("org.freedesktop.NetworkManager")):
		return one(ImportNMConnection(data))
	}
	return one(ImportProfile(data))
}

// sanitizeProfileName turns another program's connection name into a
// valid profile name: common accented letters lose their accents, other
// characters outside the allowed set become spaces, and the result is
// trimmed to MaxProfileName. "" stays "".
func sanitizeProfileName(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		rep := string(r)
		if !nameRune(r) {
			if t, ok := foldAccents[r]; ok {
				rep = t
			} else {
				rep = " "
			}
		}
		if rep == " " {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteString(rep)
	}
	out := b.String()
	if len(out) > MaxProfileName {
		out = out[:MaxProfileName]
	}
	out = strings.TrimLeft(strings.TrimRight(out, " ."), " .")
	if checkProfileName(out) != "" {
		if out == "" {
			return ""
		}
		out = "VPN " + out // a reserved device name, say
		if len(out) > MaxProfileName {
			out = strings.TrimRight(out[:MaxProfileName], " .")
		}
	}
	return out
}

var foldAccents = func() map[rune]string {
	m := map[rune]string{'ß': "ss", 'æ': "ae", 'Æ': "AE", 'œ': "oe", 'Œ': "OE", 'ø': "o", 'Ø': "O", 'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D"}
	for base, accented := range map[string]string{
		"a": "àáâãäåāăą", "A": "ÀÁÂÃÄÅĀĂĄ", "c": "çćĉċč", "C": "ÇĆĈĊČ", "d": "ď", "D": "Ď",
		"e": "èéêëēĕėęě", "E": "ÈÉÊËĒĔĖĘĚ", "g": "ĝğġģ", "G": "ĜĞĠĢ", "i": "ìíîïĩīĭįı", "I": "ÌÍÎÏĨĪĬĮİ",
		"n": "ñńņňŉ", "N": "ÑŃŅŇ", "o": "òóôõöōŏő", "O": "ÒÓÔÕÖŌŎŐ", "r": "ŕŗř", "R": "ŔŖŘ",
		"s": "śŝşš", "S": "ŚŜŞŠ", "t": "ţťŧ", "T": "ŢŤŦ", "u": "ùúûüũūŭůűų", "U": "ÙÚÛÜŨŪŬŮŰŲ",
		"y": "ýÿŷ", "Y": "ÝŸŶ", "z": "źżž", "Z": "ŹŻŽ",
	} {
		for _, r := range accented {
			m[r] = base
		}
	}
	return m
}()

// importProposals turns another client's proposal list (strongSwan or
// Libreswan notation: "aes256-sha1-modp2048!", "aes128-sha2;modp2048",
// "3des-sha1-dh2") into Corridor's notation. It keeps the proposals
// Corridor can offer, sets legacy when one needs it, and says what it left
// out.
func importProposals(list string, phase1 bool) (out string, legacy bool, warnings []string) {
	var kept []string
	for _, item := range strings.Split(list, ",") {
		item = strings.ToLower(strings.TrimSpace(item))
		item = strings.TrimSuffix(item, "!") // strongSwan: "only these"
		if item == "" {
			continue
		}
		item = strings.ReplaceAll(item, ";", "-")
		parts := strings.Split(item, "-")
		for i, p := range parts {
			switch p {
			case "sha2":
				parts[i] = "sha256"
			case "dh2":
				parts[i] = "modp1024"
			case "dh5":
				parts[i] = "modp1536"
			case "dh14":
				parts[i] = "modp2048"
			case "dh15":
				parts[i] = "modp3072"
			case "dh16":
				parts[i] = "modp4096"
			}
		}
		item = strings.Join(parts, "-")
		var err error
		if phase1 {
			_, err = ike.ParseIKE(item, true)
		} else {
			_, err = ike.ParseESP(item, true)
		}
		if err != nil {
			phase := "ESP"
			if phase1 {
				phase = "IKE"
			}
			warnings = append(warnings, fmt.Sprintf("left out the %s proposal %q, which Corridor cannot offer: %v", phase, item, err))
			continue
		}
		if phase1 {
			_, err = ike.ParseIKE(item, false)
		} else {
			_, err = ike.ParseESP(item, false)
		}
		if err != nil {
			legacy = true
		}
		kept = append(kept, item)
	}
	if len(kept) == 0 && len(warnings) > 0 {
		warnings = append(warnings, "none of the proposals was usable: Corridor's defaults will be offered")
	}
	return strings.Join(kept, ","), legacy, warnings
}
