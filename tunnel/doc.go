// Package tunnel composes the userspace protocol stack of Corridor:
// L2TPv2 (RFC 2661) carrying PPP (RFC 1661), and the packet pump that moves
// IP packets between a TUN-like Device and the L2TP transport: plain UDP
// (UDPTransport) or ESP in UDP (ike.Conn). The comment atop tunnel.go draws
// both data paths with their byte offsets.
//
// The package is pure protocol code: it opens no devices and changes no
// system state, so it is tested without privileges.
package tunnel
