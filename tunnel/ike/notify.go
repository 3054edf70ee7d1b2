package ike

import "fmt"

// NotifyType is a Notify Message Type (RFC 2408 3.14.1, RFC 2407 4.6.3,
// RFC 3706).
type NotifyType uint16

// Notify message types.
const (
	NotifyInvalidPayloadType    NotifyType = 1
	NotifyInvalidCookie         NotifyType = 4
	NotifyInvalidExchangeType   NotifyType = 7
	NotifyInvalidFlags          NotifyType = 8
	NotifyInvalidMessageID      NotifyType = 9
	NotifyInvalidProtocolID     NotifyType = 10
	NotifyInvalidSPI            NotifyType = 11
	NotifyInvalidTransformID    NotifyType = 12
	NotifyAttributesUnsupported NotifyType = 13
	NotifyNoProposalChosen      NotifyType = 14
	NotifyBadProposalSyntax     NotifyType = 15
	NotifyPayloadMalformed      NotifyType = 16
	NotifyInvalidKeyInformation NotifyType = 17
	NotifyInvalidIDInformation  NotifyType = 18
	NotifyInvalidHashInfo       NotifyType = 23
	NotifyAuthenticationFailed  NotifyType = 24
	NotifyResponderLifetime     NotifyType = 24576 // RFC 2407 4.6.3.1
	NotifyReplayStatus          NotifyType = 24577
	NotifyInitialContact        NotifyType = 24578
	NotifyRUThere               NotifyType = 36136 // RFC 3706
	NotifyRUThereAck            NotifyType = 36137
)

var notifyInfo = map[NotifyType]struct{ name, words string }{
	1:     {"INVALID-PAYLOAD-TYPE", "the server did not understand a part of our message"},
	2:     {"DOI-NOT-SUPPORTED", "the server does not speak the IPsec domain of interpretation"},
	3:     {"SITUATION-NOT-SUPPORTED", "the server refused the IPsec situation we asked for"},
	4:     {"INVALID-COOKIE", "the server does not know this IKE session (it may have restarted)"},
	5:     {"INVALID-MAJOR-VERSION", "the server does not speak IKE version 1"},
	6:     {"INVALID-MINOR-VERSION", "the server does not speak IKE version 1.0"},
	7:     {"INVALID-EXCHANGE-TYPE", "the server refused the kind of exchange we started"},
	8:     {"INVALID-FLAGS", "the server found invalid flags in our message"},
	9:     {"INVALID-MESSAGE-ID", "the server does not know the exchange we continued"},
	10:    {"INVALID-PROTOCOL-ID", "the server refused the protocol we proposed"},
	11:    {"INVALID-SPI", "the server does not know the security association we used"},
	12:    {"INVALID-TRANSFORM-ID", "the server does not know an algorithm we proposed"},
	13:    {"ATTRIBUTES-NOT-SUPPORTED", "the server refused an attribute of our proposal"},
	14:    {"NO-PROPOSAL-CHOSEN", "the server accepted none of the encryption settings we offered"},
	15:    {"BAD-PROPOSAL-SYNTAX", "the server could not read our proposal"},
	16:    {"PAYLOAD-MALFORMED", "the server could not read our message (often a wrong pre-shared key)"},
	17:    {"INVALID-KEY-INFORMATION", "the server refused our key exchange"},
	18:    {"INVALID-ID-INFORMATION", "the server refused our identity or the traffic we asked to protect"},
	19:    {"INVALID-CERT-ENCODING", "the server could not read a certificate"},
	20:    {"INVALID-CERTIFICATE", "the server refused a certificate"},
	21:    {"CERT-TYPE-UNSUPPORTED", "the server does not support the certificate type"},
	22:    {"INVALID-CERT-AUTHORITY", "the server does not trust the certificate authority"},
	23:    {"INVALID-HASH-INFORMATION", "the server's check of our message failed (usually a wrong pre-shared key)"},
	24:    {"AUTHENTICATION-FAILED", "the server rejected our authentication (usually a wrong pre-shared key)"},
	25:    {"INVALID-SIGNATURE", "the server rejected a signature"},
	26:    {"ADDRESS-NOTIFICATION", "address notification"},
	27:    {"NOTIFY-SA-LIFETIME", "the server announced a lifetime"},
	28:    {"CERTIFICATE-UNAVAILABLE", "the server has no certificate to offer"},
	29:    {"UNSUPPORTED-EXCHANGE-TYPE", "the server does not support that exchange"},
	30:    {"UNEQUAL-PAYLOAD-LENGTHS", "the server found inconsistent lengths in our message"},
	24576: {"RESPONDER-LIFETIME", "the server set the lifetime"},
	24577: {"REPLAY-STATUS", "replay status"},
	24578: {"INITIAL-CONTACT", "initial contact"},
	36136: {"R-U-THERE", "dead peer detection request"},
	36137: {"R-U-THERE-ACK", "dead peer detection answer"},
}

func (t NotifyType) String() string {
	if i, ok := notifyInfo[t]; ok {
		return i.name
	}
	return fmt.Sprintf("NOTIFY-%d", uint16(t))
}

// Words explains t in plain words.
func (t NotifyType) Words() string {
	if i, ok := notifyInfo[t]; ok {
		return i.words
	}
	if t < 8192 {
		return fmt.Sprintf("the server reported error %d", uint16(t))
	}
	return fmt.Sprintf("the server sent status %d", uint16(t))
}

// IsError reports whether t is an error type (RFC 2408 3.14.1: below 8192).
func (t NotifyType) IsError() bool { return t > 0 && t < 8192 }

// NotifyError is an error notification the server sent.
type NotifyError struct {
	Phase string // "phase 1", "phase 2", "informational"
	Type  NotifyType
	Offer string // what we offered, for NO-PROPOSAL-CHOSEN
}

func (e *NotifyError) Error() string {
	s := fmt.Sprintf("ike: %s: server sent %v: %s", e.Phase, e.Type, e.Type.Words())
	if e.Offer != "" {
		s += "; we offered " + e.Offer
	}
	return s
}
