package ppp

import (
	"errors"
	"testing"
)

// FuzzAuthParsers feeds the same bytes to every PAP, CHAP and MS-CHAPv2
// parser. None may panic; each either fails with ErrMalformed or returns
// values consistent with the input.
func FuzzAuthParsers(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0, 6, 1, 9})
	f.Add(append([]byte{1, 0x11, 0, 31, 16}, "0123456789abcdefserver-name"...))
	f.Add(append([]byte{3, 5, 0, 46}, "S=407A5589115FD0D6209F510FE9C04566932CDA56"...))
	f.Add(append([]byte{4, 6, 0, 54}, "E=691 R=0 C=00112233445566778899AABBCCDDEEFF V=3"...))
	f.Add([]byte("E=691 R=1 C=00112233445566778899AABBCCDDEEFF V=3 M=Authentication failure"))
	f.Add(append([]byte{2, 7, 0, 13, 8}, "Login ok"...))
	f.Add([]byte{2, 1, 0xff, 0xff, 0xff})
	f.Add(AppendPAPRequest(nil, 3, "user", "pass"))

	var auth, peer [16]byte
	var nt [24]byte
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := ParseCHAPChallenge(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseCHAPChallenge error %v does not wrap ErrMalformed", err)
			}
		} else if len(c.Value) == 0 || 5+len(c.Value)+len(c.Name) > len(b) {
			t.Errorf("ParseCHAPChallenge(% X) = %+v does not fit the input", b, c)
		}

		if code, _, msg, err := ParseCHAPStatus(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseCHAPStatus error %v does not wrap ErrMalformed", err)
			}
		} else if (code != CHAPSuccess && code != CHAPFailure) || 4+len(msg) > len(b) {
			t.Errorf("ParseCHAPStatus(% X) = %d, %q", b, code, msg)
		}

		if code, _, msg, err := ParsePAPReply(b); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParsePAPReply error %v does not wrap ErrMalformed", err)
			}
		} else if (code != PAPAuthAck && code != PAPAuthNak) || 4+len(msg) > len(b) {
			t.Errorf("ParsePAPReply(% X) = %d, %q", b, code, msg)
		}

		if fl, err := ParseMSCHAPv2Failure(string(b)); err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseMSCHAPv2Failure error %v does not wrap ErrMalformed", err)
			}
		} else {
			if fl.Code < 0 || fl.Version < 0 || (fl.Challenge != nil && len(fl.Challenge) != 16) {
				t.Errorf("ParseMSCHAPv2Failure(%q) = %+v", b, fl)
			}
			_ = fl.Describe()
		}

		_ = CheckAuthenticatorResponse(string(b), "pw", nt, peer, auth, string(b))
	})
}
