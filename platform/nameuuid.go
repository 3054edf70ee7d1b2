package platform

import "crypto/sha1"

// nameUUID is the version 5 (name-based, SHA-1) UUID of name in the
// namespace ns (RFC 9562 5.5): the same name always gives the same UUID.
func nameUUID(ns [16]byte, name string) [16]byte {
	h := sha1.New()
	h.Write(ns[:])
	h.Write([]byte(name))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50 // version 5
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u
}

// adapterNamespace is the namespace of the Wintun adapters' GUIDs (a random
// UUID picked once for Corridor).
var adapterNamespace = [16]byte{0x2f, 0x8c, 0x61, 0xd4, 0x0b, 0x57, 0x4e, 0x93, 0x8a, 0x1c, 0x5e, 0x70, 0xc3, 0x29, 0xb6, 0x4d}

// adapterGUID is the GUID Corridor asks Wintun to give the adapter named
// name. Windows files its network profiles (the "Network 2, 3, ..." of
// the Network and Sharing Center, and the firewall's network category) by
// the adapter's GUID: a random GUID for each connect would file a new
// profile every time, while one derived from the name, as WireGuard for
// Windows does for its tunnels, keeps one profile per adapter name.
func adapterGUID(name string) [16]byte { return nameUUID(adapterNamespace, name) }
