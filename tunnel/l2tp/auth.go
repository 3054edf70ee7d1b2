package l2tp

import "crypto/md5"

// ChallengeResponse computes the Challenge Response AVP value of tunnel
// authentication (RFC 2661 sections 4.2 and 5.1.1): a CHAP response (RFC
// 1994) whose identifier is the type of the message carrying it, that is
// MD5(typ as one octet + secret + challenge). typ is MsgSCCRP for the LNS's
// response to the LAC's challenge, MsgSCCCN for the LAC's response to the
// LNS's.
func ChallengeResponse(typ MsgType, secret, challenge []byte) [16]byte {
	h := md5.New()
	h.Write([]byte{byte(typ)})
	h.Write(secret)
	h.Write(challenge)
	var out [16]byte
	h.Sum(out[:0])
	return out
}
