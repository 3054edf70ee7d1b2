// Package ike is an IKEv1 initiator for L2TP/IPsec: ISAKMP (RFC 2408),
// the IPsec DOI (RFC 2407), Main Mode with a pre-shared key or with RSA
// signatures and X.509 certificates (RFC 2409 5.1, cert.go), Aggressive
// Mode with a group name when a profile asks for it (RFC 2409 5.4,
// aggressive.go) and Quick Mode (RFC 2409 5.5), NAT traversal (RFC 3947,
// RFC 3948 and the drafts before them), dead peer detection (RFC 3706)
// and ESP in UDP through package esp.
//
// Everything runs over one ordinary UDP socket: no raw sockets and no
// kernel IPsec. Conn satisfies l2tp.Transport, so L2TP runs over it
// exactly as it runs over plain UDP.
package ike
