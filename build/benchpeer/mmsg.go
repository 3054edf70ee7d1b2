//go:build linux

package main

import (
	"encoding/binary"
	"net"
	"net/netip"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgConn batches datagrams on a UDP socket with recvmmsg and sendmmsg
// (Linux), through the runtime's poller, with headers, I/O vectors and
// addresses allocated once: nothing per packet. (golang.org/x/net's
// ipv4.PacketConn.ReadBatch allocates each sender's address.) One
// goroutine may read while another writes.
type mmsgConn struct {
	rc syscall.RawConn

	rhdrs  []unix.Mmsghdr
	riovs  []unix.Iovec
	rnames []unix.RawSockaddrInet4

	whdrs []unix.Mmsghdr
	wiovs []unix.Iovec
	wname unix.RawSockaddrInet4
}

func newMmsgConn(c *net.UDPConn, n int) (*mmsgConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	m := &mmsgConn{rc: rc,
		rhdrs: make([]unix.Mmsghdr, n), riovs: make([]unix.Iovec, n), rnames: make([]unix.RawSockaddrInet4, n),
		whdrs: make([]unix.Mmsghdr, n), wiovs: make([]unix.Iovec, n)}
	for i := range n {
		m.rhdrs[i].Hdr.Iov = &m.riovs[i]
		m.rhdrs[i].Hdr.Iovlen = 1
		m.rhdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.rnames[i]))
		m.whdrs[i].Hdr.Iov = &m.wiovs[i]
		m.whdrs[i].Hdr.Iovlen = 1
		m.whdrs[i].Hdr.Name = (*byte)(unsafe.Pointer(&m.wname))
		m.whdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
	}
	return m, nil
}

// ReadBatch reads up to len(bufs) datagrams (at most the size it was made
// for), each into bufs[i] with its length in sizes[i] and its sender in
// from[i]; it blocks until at least one is there.
func (m *mmsgConn) ReadBatch(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	n := min(len(bufs), len(m.rhdrs))
	for i := range n {
		m.riovs[i].Base = &bufs[i][0]
		m.riovs[i].SetLen(len(bufs[i]))
		m.rhdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet4
		m.rhdrs[i].Len = 0
	}
	var got int
	var serr error
	err := m.rc.Read(func(fd uintptr) bool {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.rhdrs[0])), uintptr(n), 0, 0, 0)
		for e == unix.EINTR {
			r, _, e = unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&m.rhdrs[0])), uintptr(n), 0, 0, 0)
		}
		if e == unix.EAGAIN {
			return false // the poller waits for the socket
		}
		if e != 0 {
			serr = e
		}
		got = int(r)
		return true
	})
	if err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	for i := range got {
		sizes[i] = int(m.rhdrs[i].Len)
		a := &m.rnames[i]
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&a.Port))[:])
		from[i] = netip.AddrPortFrom(netip.AddrFrom4(a.Addr), port)
	}
	return got, nil
}

// WriteBatch sends every packet of pkts to dst (an IPv4 address), as many
// per sendmmsg as it takes.
func (m *mmsgConn) WriteBatch(pkts [][]byte, dst netip.AddrPort) error {
	m.wname.Family = unix.AF_INET
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&m.wname.Port))[:], dst.Port())
	m.wname.Addr = dst.Addr().As4()
	for len(pkts) > 0 {
		n := min(len(pkts), len(m.whdrs))
		for i := range n {
			m.wiovs[i].Base = &pkts[i][0]
			m.wiovs[i].SetLen(len(pkts[i]))
		}
		var sent int
		var serr error
		err := m.rc.Write(func(fd uintptr) bool {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.whdrs[0])), uintptr(n), 0, 0, 0)
			for e == unix.EINTR {
				r, _, e = unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&m.whdrs[0])), uintptr(n), 0, 0, 0)
			}
			if e == unix.EAGAIN {
				return false // the poller waits for room
			}
			if e != 0 {
				serr = e
			}
			sent = int(r)
			return true
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return serr
		}
		if sent <= 0 {
			return unix.EIO
		}
		pkts = pkts[sent:]
	}
	return nil
}
