// Package l2tp implements the LAC side of the Layer Two Tunneling Protocol,
// version 2 (RFC 2661): the control-message wire format and AVPs (section 4),
// hidden AVPs (4.3), reliable delivery of control messages (5.8), the control
// connection and session state machines (7), and data message framing (3.1).
//
// L2TP datagrams travel over a Transport: a connected UDP socket without
// IPsec, ESP-in-UDP with it. Nothing here depends on which.
package l2tp
