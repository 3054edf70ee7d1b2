package ike

// maxMsgIDs bounds how many message IDs of informational exchanges an
// IKE SA remembers.
const maxMsgIDs = 256

// msgIDs is a bounded set of the most recent message IDs: RFC 2409 5.7
// gives every informational exchange its own message ID, so an ID seen
// before on the IKE SA is a replay. The zero value is an empty set.
type msgIDs struct {
	set  map[uint32]bool
	ring [maxMsgIDs]uint32 // in the order added; next is the oldest
	next int
}

// add records id and reports whether it is new; when the set is full the
// oldest ID is forgotten.
func (s *msgIDs) add(id uint32) bool {
	if s.set == nil {
		s.set = make(map[uint32]bool, maxMsgIDs)
	}
	if s.set[id] {
		return false
	}
	if len(s.set) == maxMsgIDs {
		delete(s.set, s.ring[s.next])
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % maxMsgIDs
	s.set[id] = true
	return true
}
