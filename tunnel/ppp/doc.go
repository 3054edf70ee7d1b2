// Package ppp implements the client side of the Point-to-Point Protocol as
// carried inside L2TP: the option negotiation automaton and LCP (RFC 1661),
// PAP (RFC 1334), CHAP with MD5 (RFC 1994), MS-CHAPv2 (RFC 2759), and IPCP
// (RFC 1332) with the DNS extensions of RFC 1877, and, when asked for,
// IPV6CP (RFC 5072: interface identifiers for the link-local addresses).
package ppp
