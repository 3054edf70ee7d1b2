package ike

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// linuxBatchIO moves batches with recvmmsg and sendmmsg (one system call
// for many datagrams) and, while the kernel takes it, UDP GSO: a run of
// equal-sized ESP packets goes out as one message with a UDP_SEGMENT
// control message, and the kernel (or the NIC) cuts it into datagrams.
type linuxBatchIO struct {
	rc  syscall.RawConn
	to  unix.RawSockaddrInet4
	gso atomic.Bool // UDP GSO still tried
	// sys is sendmmsg(2); tests replace it to refuse GSO.
	sys func(fd uintptr, h *mmsghdr, n int) (int, syscall.Errno)

	// send's scratch (callers hold Conn.txMu).
	shdrs [rxBatch]mmsghdr
	siovs [rxBatch]unix.Iovec
	soob  [rxBatch][4]uint64 // gsoOOBLen bytes each, aligned for a Cmsghdr
	sruns [rxBatch]int       // packets in message j
	// sendmmsg's state for sendFd: messages to send, sent, the error.
	sendFn    func(fd uintptr) bool
	sn, sdone int
	serr      error
	// recv's scratch (one reader).
	rhdrs  [rxBatch]mmsghdr
	riovs  [rxBatch]unix.Iovec
	rnames [rxBatch]unix.RawSockaddrInet4
	recvFn func(fd uintptr) bool
	rn     int
	rgot   int
	rerr   error
}

// mmsghdr is struct mmsghdr of sendmmsg(2) and recvmmsg(2); Go pads it
// to the alignment of Msghdr as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// GSO limits: at most gsoMaxSegs datagrams per message (the kernel's
// UDP_MAX_SEGMENTS is 64 before Linux 6.7) and gsoMaxBytes in all (one
// IPv4 datagram's worth before the cut).
const (
	gsoMaxSegs  = 64
	gsoMaxBytes = 65000
)

var gsoOOBLen = unix.CmsgSpace(2)

// socketBuffer is the receive and send buffer the ESP socket asks for.
const socketBuffer = 4 << 20

func newBatchIO(u *net.UDPConn, to netip.AddrPort) batchIO {
	rc, err := u.SyscallConn()
	if err != nil || !to.Addr().Is4() {
		return nil
	}
	// A batch of 64 echoes needs more than the default 208 KiB of
	// receive buffer (each datagram costs about 2 KiB of it): ask for
	// 4 MiB, beyond net.core.rmem_max when privileged (as wireguard-go).
	rc.Control(func(fd uintptr) {
		for _, o := range [][2]int{{unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}, {unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}} {
			if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[0], socketBuffer) != nil {
				unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o[1], socketBuffer)
			}
		}
	})
	b := &linuxBatchIO{rc: rc, sys: sendmmsg}
	b.to.Family = unix.AF_INET
	b.to.Addr = to.Addr().As4()
	p := (*[2]byte)(unsafe.Pointer(&b.to.Port))
	p[0], p[1] = byte(to.Port()>>8), byte(to.Port())
	b.sendFn, b.recvFn = b.sendFd, b.recvFd
	b.gso.Store(true)
	return b
}

// send implements batchIO.
func (b *linuxBatchIO) send(pkts [][]byte) (int, error) {
	sent := 0
	gso := b.gso.Load()
	for sent < len(pkts) {
		nmsg := b.build(pkts[sent:], gso)
		k, err := b.sendmmsg(nmsg)
		for j := range k {
			sent += b.sruns[j]
		}
		if err == nil {
			continue
		}
		if gso && k < nmsg && b.sruns[k] > 1 {
			// The kernel refused a GSO message: send the rest one
			// datagram per message. EIO means the device cannot
			// checksum for us (no GSO ever); EINVAL, say, a segment
			// larger than the path's MTU (this batch only).
			if errors.Is(err, unix.EIO) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOPROTOOPT) {
				b.gso.Store(false)
			}
			gso = false
			continue
		}
		return sent, err
	}
	return sent, nil
}

// build lays pkts out in messages (one per packet, or with gso one per
// run of equal-sized packets, the last of a run possibly shorter) and
// returns how many.
func (b *linuxBatchIO) build(pkts [][]byte, gso bool) int {
	nmsg := 0
	pkts = pkts[:min(len(pkts), rxBatch)] // the scratch's size; send loops
	for i := 0; i < len(pkts); nmsg++ {
		seg := len(pkts[i])
		j, total := i, 0
		for j < len(pkts) && j-i < gsoMaxSegs && total+len(pkts[j]) <= gsoMaxBytes && len(pkts[j]) <= seg {
			total += len(pkts[j])
			j++
			if !gso || len(pkts[j-1]) < seg {
				break // a shorter packet ends a run
			}
		}
		for k := i; k < j; k++ {
			b.siovs[k].Base = &pkts[k][0]
			b.siovs[k].SetLen(len(pkts[k]))
		}
		h := &b.shdrs[nmsg].hdr
		*h = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.to)), Namelen: unix.SizeofSockaddrInet4, Iov: &b.siovs[i]}
		h.SetIovlen(j - i)
		if j-i > 1 {
			oob := unsafe.Slice((*byte)(unsafe.Pointer(&b.soob[nmsg])), gsoOOBLen)
			cm := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
			cm.Level, cm.Type = unix.SOL_UDP, unix.UDP_SEGMENT
			cm.SetLen(unix.CmsgLen(2))
			*(*uint16)(unsafe.Pointer(&oob[unix.CmsgLen(0)])) = uint16(seg)
			h.Control = &oob[0]
			h.SetControllen(len(oob))
		}
		b.sruns[nmsg] = j - i
		i = j
	}
	return nmsg
}

// sendmmsg sends messages 0..n-1 and returns how many went out; an error
// is that of message k (the first not sent).
func (b *linuxBatchIO) sendmmsg(n int) (int, error) {
	b.sn, b.sdone, b.serr = n, 0, nil
	if err := b.rc.Write(b.sendFn); err != nil {
		return b.sdone, err
	}
	return b.sdone, b.serr
}

// sendFd is sendmmsg's work on the socket, bound once into sendFn (a
// closure made per call would cost an allocation).
func (b *linuxBatchIO) sendFd(fd uintptr) bool {
	for b.sdone < b.sn {
		r, e := b.sys(fd, &b.shdrs[b.sdone], b.sn-b.sdone)
		if e == unix.EAGAIN {
			return false // the poller waits until the socket takes more
		}
		if e != 0 {
			b.serr = e
			return true
		}
		b.sdone += r
	}
	return true
}

// recvFd is recv's work on the socket, bound once into recvFn.
func (b *linuxBatchIO) recvFd(fd uintptr) bool {
	r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.rhdrs[0])), uintptr(b.rn), 0, 0, 0)
	if e == unix.EAGAIN {
		return false
	}
	if e != 0 {
		b.rerr = e
	}
	b.rgot = int(r)
	return true
}

func sendmmsg(fd uintptr, h *mmsghdr, n int) (int, syscall.Errno) {
	r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(h)), uintptr(n), 0, 0, 0)
	return int(r), e
}

// recv implements batchIO.
func (b *linuxBatchIO) recv(bufs [][]byte, sizes []int, from []netip.AddrPort) (int, error) {
	n := len(bufs)
	for i := range n {
		b.riovs[i].Base = &bufs[i][0]
		b.riovs[i].SetLen(len(bufs[i]))
		b.rhdrs[i].hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&b.rnames[i])), Namelen: unix.SizeofSockaddrInet4, Iov: &b.riovs[i]}
		b.rhdrs[i].hdr.SetIovlen(1)
	}
	b.rn, b.rgot, b.rerr = n, 0, nil
	if err := b.rc.Read(b.recvFn); err != nil {
		return 0, err
	}
	if b.rerr != nil {
		return 0, b.rerr
	}
	got := b.rgot
	for i := range got {
		sizes[i] = int(b.rhdrs[i].n)
		from[i] = netip.AddrPort{}
		if b.rhdrs[i].hdr.Flags&unix.MSG_TRUNC != 0 || b.rnames[i].Family != unix.AF_INET {
			continue // cut short or not IPv4: dropped as not from the server
		}
		p := (*[2]byte)(unsafe.Pointer(&b.rnames[i].Port))
		from[i] = netip.AddrPortFrom(netip.AddrFrom4(b.rnames[i].Addr), uint16(p[0])<<8|uint16(p[1]))
	}
	return got, nil
}
