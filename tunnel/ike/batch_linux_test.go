package ike

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestGSORuns: build cuts a batch into runs of equal-sized packets (the
// last of a run may be shorter), within the kernel's limits, and into
// one message per packet without GSO.
func TestGSORuns(t *testing.T) {
	mk := func(sizes ...int) [][]byte {
		var p [][]byte
		for _, n := range sizes {
			p = append(p, make([]byte, n))
		}
		return p
	}
	rep := func(n, size int) []int {
		s := make([]int, n)
		for i := range s {
			s[i] = size
		}
		return s
	}
	cases := []struct {
		sizes []int
		gso   bool
		runs  []int
	}{
		{[]int{100, 100, 100, 60, 100, 100}, true, []int{4, 2}},
		{[]int{100, 100, 100, 60, 100, 100}, false, []int{1, 1, 1, 1, 1, 1}},
		{[]int{60, 100, 100}, true, []int{1, 2}},
		{[]int{100, 120, 120, 120}, true, []int{1, 3}},
		{rep(64+10, 500), true, []int{64}},                 // at most rxBatch per call (send loops)
		{rep(60, 1400), true, []int{46, 14}},               // at most gsoMaxBytes per message
		{append(rep(3, 1400), 1400, 1399), true, []int{5}}, // ends with a shorter one
		{[]int{1400}, true, []int{1}},
	}
	b := &linuxBatchIO{}
	for _, tc := range cases {
		nmsg := b.build(mk(tc.sizes...), tc.gso)
		if got := b.sruns[:nmsg]; fmt.Sprint(got) != fmt.Sprint(tc.runs) {
			t.Errorf("%v gso %v: runs %v, want %v", tc.sizes, tc.gso, got, tc.runs)
		}
		for j := range nmsg {
			h := &b.shdrs[j].hdr
			if (h.Controllen != 0) != (b.sruns[j] > 1) {
				t.Errorf("%v: message %d of %d packets with control length %d", tc.sizes, j, b.sruns[j], h.Controllen)
			}
		}
	}
}

// TestGSOFallback: when the kernel refuses a GSO message (EIO: the device
// cannot checksum for us), the batch goes out one datagram per message,
// in order, and GSO is not tried again; with EINVAL only that batch does.
func TestGSOFallback(t *testing.T) {
	for _, refusal := range []syscall.Errno{0, unix.EIO, unix.EINVAL} {
		t.Run(fmt.Sprint("refusal ", int(refusal)), func(t *testing.T) {
			r := newTestResponder(t, "secret psk")
			r.start()
			c, err := dialTest(r.config())
			if err != nil {
				t.Fatal(err)
			}
			rd := startBatchReader(t, c)
			lb := c.bio.(*linuxBatchIO)
			refused, plain, gsoSent := 0, 0, 0
			lb.sys = func(fd uintptr, h *mmsghdr, n int) (int, syscall.Errno) {
				if h.hdr.Controllen != 0 && refusal != 0 {
					refused++
					return 0, refusal
				}
				if h.hdr.Controllen != 0 {
					gsoSent++
				}
				plain++
				return sendmmsg(fd, h, n)
			}
			sizes := []int{300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 300, 20}
			want := sendBatch(t, c, 0, sizes)
			want = append(want, sendBatch(t, c, 100, sizes)...)
			for i, w := range want {
				if got := rd.next(t, 5*time.Second); !bytes.Equal(got, w) {
					t.Fatalf("echo %d differs", i)
				}
			}
			wantRefused := 2 // EINVAL: each batch tries GSO once
			switch refusal {
			case unix.EIO:
				wantRefused = 1
			case 0:
				wantRefused = 0
				if gsoSent != 2 {
					t.Errorf("%d GSO messages went out, want 2 (the kernel takes GSO on loopback)", gsoSent)
				}
			}
			if refused != wantRefused || plain == 0 || lb.gso.Load() != (refusal != unix.EIO) {
				t.Errorf("refused %d GSO calls (want %d), %d plain calls, GSO on: %v", refused, wantRefused, plain, lb.gso.Load())
			}
			s := r.stats()
			for i, seq := range s.espSeqs {
				if seq != uint32(i+1) {
					t.Fatalf("ESP packet %d on the wire has number %d", i, seq)
				}
			}
		})
	}
}
