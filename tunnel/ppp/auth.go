package ppp

import (
	"bytes"
	"fmt"
	"io"
	"time"
)

// authState is the authentication phase (RFC 1661 3.5) of one LCP
// session. It is reset when LCP comes up again.
type authState struct {
	method   AuthMethod
	attempts int    // PAP requests sent
	papID    byte   // identifier of our PAP request
	papPkt   []byte // PAP request, kept for retransmission
	nakMsg   string // a PAP Authenticate-Nak seen: its message
	nak      bool
	failed   *AuthError // the server rejected us

	chapID        byte
	chapChallenge []byte
	chapResp      []byte    // our Response, resent for a repeated Challenge
	respSends     int       // times chapResp was sent
	respAt        time.Time // when chapResp was first sent
	peerChal      [16]byte
	authChal      [16]byte
	ntResp        [24]byte
}

// Authentication restarts tolerated after a PAP Authenticate-Nak followed
// by LCP renegotiation (see startAuth).
const maxAuthRounds = 3

func (l *Link) startAuth(m AuthMethod) {
	rounds := l.authRounds
	l.auth = authState{method: m}
	l.authRounds = rounds
	switch m {
	case AuthNone:
		l.authDone(AuthNone)
	case AuthPAP:
		l.auth.papID = l.nextLCPID()
		l.auth.papPkt = AppendPAPRequest(nil, l.auth.papID, l.cfg.User, l.cfg.Password)
		l.sendPAP()
	default: // CHAP: the server speaks first (RFC 1994 3)
		l.timers[tAuth].at = l.now.Add(l.cfg.AuthTimeout)
	}
}

func (l *Link) sendPAP() {
	l.auth.attempts++
	l.sendCP(ProtoPAP, l.auth.papPkt)
	d := l.cfg.RestartInterval << min(l.auth.attempts-1, 8)
	l.timers[tAuth].at = l.now.Add(min(d, l.cfg.MaxRestartInterval))
}

func (l *Link) authTimeout() {
	switch {
	case l.auth.nak:
		// No LCP renegotiation followed the Nak: the password was wrong.
		l.fail(l.authError())
	case l.auth.method == AuthPAP && l.auth.attempts < l.cfg.MaxConfigure:
		l.sendPAP()
	case l.auth.method == AuthPAP:
		l.fail(fmt.Errorf("ppp: no answer to %d PAP requests: %w", l.auth.attempts, ErrNoAnswer))
	case l.auth.chapResp != nil && l.auth.respSends < l.maxResponses() && l.now.Before(l.chapDeadline()):
		l.sendCHAPResponse()
	case l.auth.chapResp != nil:
		l.fail(fmt.Errorf("ppp: no answer to our %v response (sent %s over %v): %w",
			l.auth.method, timesWord(l.auth.respSends), l.now.Sub(l.auth.respAt).Round(time.Millisecond), ErrAuthNoAnswer))
	case l.auth.method != AuthNone:
		l.fail(fmt.Errorf("ppp: the server did not complete %v authentication within %v: %w",
			l.auth.method, l.cfg.AuthTimeout, ErrNoAnswer))
	}
}

func (l *Link) authError() error {
	if l.auth.failed != nil {
		return l.auth.failed
	}
	e := &AuthError{Method: l.auth.method, User: l.cfg.User}
	if l.auth.nakMsg != "" {
		e.Detail = fmt.Sprintf("%q", l.auth.nakMsg)
	}
	return e
}

func (l *Link) handlePAP(pkt []byte) {
	code, id, msg, err := ParsePAPReply(pkt)
	l.log.Debug("ppp recv", "proto", ProtoPAP, "code", authCodeName(ProtoPAP, code), "id", id, "err", err)
	if err != nil || l.auth.method != AuthPAP || id != l.auth.papID {
		return
	}
	switch code {
	case PAPAuthAck:
		l.authDone(AuthPAP)
	case PAPAuthNak:
		// A server whose LCP is not yet Opened (its Ack to us was lost)
		// Naks too, then sends a fresh Configure-Request: wait briefly for
		// that renegotiation before calling the password wrong. A peer that
		// means it ends the link (Terminate-Request) or stays silent.
		l.auth.nak, l.auth.nakMsg = true, msg
		l.authRounds++
		if l.authRounds >= maxAuthRounds {
			l.fail(l.authError())
			return
		}
		l.timers[tAuth].at = l.now.Add(2 * l.cfg.RestartInterval)
	}
}

func (l *Link) handleCHAP(pkt []byte) {
	if len(pkt) < 1 {
		return
	}
	m := l.auth.method
	if m != AuthCHAPMD5 && m != AuthMSCHAPv2 {
		// Not in a CHAP authentication: only a re-challenge after a CHAP
		// success (RFC 1994 section 3 allows it) is answered.
		if l.authOK != AuthCHAPMD5 && l.authOK != AuthMSCHAPv2 {
			return
		}
		m = l.authOK
		l.auth.method = m
	}
	switch pkt[0] {
	case CHAPChallenge:
		ch, err := ParseCHAPChallenge(pkt)
		l.log.Debug("ppp recv", "proto", ProtoCHAP, "code", "Challenge", "id", ch.ID, "name", ch.Name, "err", err)
		if err != nil {
			return
		}
		l.answerChallenge(m, ch)
	case CHAPSuccess, CHAPFailure:
		code, id, msg, err := ParseCHAPStatus(pkt)
		l.log.Debug("ppp recv", "proto", ProtoCHAP, "code", authCodeName(ProtoCHAP, code), "id", id, "err", err)
		if err != nil || l.auth.chapResp == nil || id != l.auth.chapID {
			return
		}
		if l.authOK != AuthNone { // re-challenge outcome
			if code == CHAPFailure {
				l.fail(&AuthError{Method: m, User: l.cfg.User, Detail: "on re-challenge"})
			}
			return
		}
		if code == CHAPFailure {
			e := &AuthError{Method: m, User: l.cfg.User}
			if m == AuthMSCHAPv2 {
				if f, err := ParseMSCHAPv2Failure(msg); err == nil {
					e.Detail = fmt.Sprintf("E=%d", f.Code)
					if d := f.Describe(); d != "" {
						e.Detail += ": " + d
					}
				} else {
					e.Detail = fmt.Sprintf("%q", msg)
				}
			} else if msg != "" {
				e.Detail = fmt.Sprintf("%q", msg)
			}
			l.auth.failed = e
			l.fail(e)
			return
		}
		if m == AuthMSCHAPv2 && !CheckAuthenticatorResponse(msg, l.cfg.Password, l.auth.ntResp,
			l.auth.peerChal, l.auth.authChal, l.cfg.User) {
			l.fail(fmt.Errorf("%w: its MS-CHAPv2 authenticator response does not match the password", ErrMutualAuth))
			return
		}
		l.authDone(m)
	}
}

func (l *Link) answerChallenge(m AuthMethod, ch CHAPChallengeMsg) {
	if l.auth.chapResp != nil && ch.ID == l.auth.chapID && bytes.Equal(ch.Value, l.auth.chapChallenge) {
		l.auth.respSends = 0 // the server is alive and asking again
		l.sendCHAPResponse() // our response was lost
		return
	}
	var value []byte
	switch m {
	case AuthCHAPMD5:
		v := CHAPMD5Response(ch.ID, l.cfg.Password, ch.Value)
		value = v[:]
	case AuthMSCHAPv2:
		if len(ch.Value) != 16 { // RFC 2759 4: a 16-octet challenge
			l.fail(fmt.Errorf("ppp: MS-CHAPv2 challenge of %d bytes: %w", len(ch.Value), ErrProtocol))
			return
		}
		copy(l.auth.authChal[:], ch.Value)
		if _, err := io.ReadFull(l.cfg.Rand, l.auth.peerChal[:]); err != nil {
			l.fail(fmt.Errorf("ppp: random peer challenge: %w", err))
			return
		}
		l.auth.ntResp = GenerateNTResponse(l.auth.authChal, l.auth.peerChal, l.cfg.User, l.cfg.Password)
		v := MSCHAPv2Response(l.auth.peerChal, l.auth.ntResp)
		value = v[:]
	}
	l.auth.chapID = ch.ID
	l.auth.chapChallenge = append(l.auth.chapChallenge[:0], ch.Value...)
	l.auth.chapResp = AppendCHAPResponse(nil, ch.ID, value, l.cfg.User)
	l.auth.respSends = 0
	l.sendCHAPResponse()
}

// maxCHAPResponses is how often one CHAP Response is sent without an
// answer.
const maxCHAPResponses = 4

// maxResponses is maxCHAPResponses, or 2 when the caller can start over
// in a new session (Config.RestartOnStall): a server that answers in
// milliseconds and did not answer two sends a second apart has most
// likely lost its Success (SoftEther never repeats it), and a new
// session costs less than waiting on. The last link, with no restart
// left, waits the whole schedule for a slow (RADIUS) server.
func (l *Link) maxResponses() int {
	if l.cfg.RestartOnStall {
		return 2
	}
	return maxCHAPResponses
}

// sendCHAPResponse sends (or resends) our CHAP Response. RFC 1994 4.1
// (Implementation Notes): "Because the Success might be lost, the
// authenticator MUST allow repeated Response packets" and answer them with
// the same Code. So a Response without an answer is sent again after 1 s,
// 2 s and 4 s (from RestartInterval, doubling up to MaxRestartInterval): a
// lost Response or a lost Success costs a second with such a server.
// SoftEther ignores a repeated Response once it has answered (it resends
// its Challenge when our Response is lost), so after the last resend we
// wait only 2*RestartInterval more (about 8 s after the first send) and
// end with ErrAuthNoAnswer; AuthTimeout still caps the whole wait. The
// caller then starts a fresh session, which costs less than waiting.
func (l *Link) sendCHAPResponse() {
	if l.auth.respSends == 0 {
		l.auth.respAt = l.now
	}
	l.auth.respSends++
	l.sendCP(ProtoCHAP, l.auth.chapResp)
	d := 2 * l.cfg.RestartInterval // the last Response's own wait
	if l.auth.respSends < l.maxResponses() {
		d = min(d<<(l.auth.respSends-1), l.cfg.MaxRestartInterval)
	}
	l.timers[tAuth].at = minTime(l.chapDeadline(), l.now.Add(d))
}

// chapAwaitingStatus: our CHAP Response is out and neither Success nor
// Failure has come (not a re-challenge after a Success).
func (l *Link) chapAwaitingStatus() bool {
	return l.authOK == AuthNone && l.auth.chapResp != nil &&
		(l.auth.method == AuthCHAPMD5 || l.auth.method == AuthMSCHAPv2)
}

// chapDeadline is when an unanswered Response ends authentication.
func (l *Link) chapDeadline() time.Time { return l.auth.respAt.Add(l.cfg.AuthTimeout) }

func timesWord(n int) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
