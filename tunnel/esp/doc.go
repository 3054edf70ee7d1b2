// Package esp implements the data path of IPsec: the Encapsulating Security
// Payload (RFC 4303) in transport mode, carried in UDP on port 4500 as NAT
// traversal requires (RFC 3948). It builds and checks ESP packets in place,
// in the caller's buffer, and allocates nothing per packet.
//
// The transforms are the ones an L2TP/IPsec server is likely to offer:
//
//   - AES-CBC (RFC 3602) or 3DES-CBC (RFC 2451), each with
//     HMAC-SHA1-96 (RFC 2404), HMAC-SHA2-256-128 (RFC 4868) or
//     HMAC-MD5-96 (RFC 2403) as integrity algorithm;
//   - AES-GCM with a 16-byte ICV (RFC 4106).
//
// Sequence numbers are 32 bits wide: extended sequence numbers (RFC 4303
// 2.2.1) are not supported, so an SA must be rekeyed before 2^32-1 packets
// (Seal then returns ErrSeqExhausted).
//
// What an SA produces is the UDP payload: SPI, sequence number, IV,
// ciphertext and ICV. The UDP header, the zero non-ESP marker that tells IKE
// apart from ESP on port 4500 (RFC 3948 2.2) and NAT keepalives are the
// transport's business; PeekSPI helps it route a datagram to its SA. In
// transport mode behind a NAT the inner UDP checksum covers addresses the
// NAT rewrites, so a sender sets it to zero (RFC 3948 3.1.2); that too is up
// to whoever writes the inner UDP header.
package esp
