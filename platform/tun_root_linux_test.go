package platform

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netnsEnv, when set, names the network namespace this test binary was
// re-executed in; the root test then runs its body instead of its setup.
const netnsEnv = "CORRIDOR_PLATFORM_TEST_NETNS"

// TestOpenTUNRoot creates a real TUN device. To leave the host's network
// alone it creates a private network namespace and re-executes this test
// binary inside it with "ip netns exec"; the whole child process (and every
// thread and command it starts) then lives in that namespace.
func TestOpenTUNRoot(t *testing.T) {
	if ns := os.Getenv(netnsEnv); ns != "" {
		testOpenTUNInNetns(t, ns)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates a TUN device in a private network namespace")
	}
	for _, tool := range []string{"ip", "ping"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	ns := fmt.Sprintf("corridor-platform-test-%d-%d", os.Getpid(), rand.Uint32())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", ns, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", ns, err, out)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, os.Args[0],
		"-test.run=^TestOpenTUNRoot$", "-test.v", "-test.count=1", "-test.timeout=50s")
	cmd.Env = append(os.Environ(), netnsEnv+"="+ns)
	out, err := cmd.CombinedOutput()
	t.Logf("child in netns %s:\n%s", ns, out)
	if err != nil {
		t.Fatalf("test in netns failed: %v", err)
	}
	if strings.Contains(string(out), "--- SKIP: TestOpenTUNRoot") {
		t.Skip("skipped inside the namespace")
	}
	if !strings.Contains(string(out), "--- PASS: TestOpenTUNRoot") {
		t.Fatal("child did not report a pass")
	}
}

func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// readResult is one Read call's packets, copied.
type readResult struct {
	pkts [][]byte
	err  error
}

func testOpenTUNInNetns(t *testing.T, ns string) {
	// Refuse to touch the host: be sure this process is in the namespace.
	if id := strings.TrimSpace(ipOut(t, "netns", "identify", fmt.Sprint(os.Getpid()))); id != ns {
		t.Fatalf("not in network namespace %q (ip netns identify says %q)", ns, id)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	route := netip.MustParsePrefix("10.77.0.0/16")
	tn, err := OpenTUN(TUNConfig{
		MTU:   1400,
		Local: netip.MustParseAddr("192.168.30.10"),
		Peer:  netip.MustParseAddr("192.168.30.1"),
	}, WithLogger(log))
	if err != nil {
		t.Fatalf("OpenTUN: %v", err)
	}
	defer tn.Close()
	name := tn.Name()
	if name != "corridor0" {
		t.Errorf("Name() = %q, want corridor0", name)
	}
	// Routes through the device are the Router's.
	rt, err := NewRouter(WithJournalDir(t.TempDir()), WithRouterLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Set(&NetConfig{Interface: name, Routes: []netip.Prefix{route}}); err != nil {
		t.Fatalf("Router.Set: %v", err)
	}
	defer rt.Close()
	t.Logf("BatchSize() = %d", tn.BatchSize())

	addr := ipOut(t, "-o", "addr", "show", "dev", name)
	if !strings.Contains(addr, "inet 192.168.30.10 peer 192.168.30.1/32") {
		t.Errorf("ip -o addr show dev %s:\n%s\nwant inet 192.168.30.10 peer 192.168.30.1/32", name, addr)
	}
	link := ipOut(t, "link", "show", name)
	flags := link[strings.Index(link, "<")+1 : strings.Index(link, ">")]
	if !strings.Contains(link, " mtu 1400 ") || !strings.Contains(","+flags+",", ",UP,") {
		t.Errorf("ip link show %s:\n%s\nwant mtu 1400 and UP", name, link)
	}
	if routes := ipOut(t, "route", "show", "dev", name); !strings.Contains(routes, "10.77.0.0/16") {
		t.Errorf("ip route show dev %s:\n%s\nwant 10.77.0.0/16", name, routes)
	}

	// One reader for the whole test, as the data path will have. The last
	// thing it sees must be the error from Close.
	const offset = 64
	results := make(chan readResult, 16)
	go func() {
		bufs := make([][]byte, tn.BatchSize())
		for i := range bufs {
			bufs[i] = make([]byte, offset+1500)
		}
		sizes := make([]int, len(bufs))
		for {
			n, err := tn.Read(bufs, sizes, offset)
			var r readResult
			for i := range n {
				r.pkts = append(r.pkts, append([]byte(nil), bufs[i][offset:offset+sizes[i]]...))
			}
			r.err = err
			results <- r
			if err != nil {
				return
			}
		}
	}()
	// next returns the next packet batch satisfying match.
	next := func(what string, match func([]byte) bool) [][]byte {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case r := <-results:
				if r.err != nil {
					t.Fatalf("Read while waiting for %s: %v", what, r.err)
				}
				if len(r.pkts) > 0 && match(r.pkts[0]) {
					return r.pkts
				}
				if len(r.pkts) > 0 {
					t.Logf("skipping %d packet(s) while waiting for %s (first: IPv%d, %d bytes)", len(r.pkts), what, r.pkts[0][0]>>4, len(r.pkts[0]))
				}
			case <-deadline:
				t.Fatalf("no %s read from %s within 5s", what, name)
			}
		}
	}

	t.Run("ping through TUN", func(t *testing.T) {
		ping := exec.Command("ping", "-c1", "-W3", "192.168.30.1")
		var pingOut strings.Builder
		ping.Stdout, ping.Stderr = &pingOut, &pingOut
		if err := ping.Start(); err != nil {
			t.Fatal(err)
		}
		pkts := next("ICMP echo request to 192.168.30.1", func(p []byte) bool {
			return len(p) >= 28 && p[0]>>4 == 4 && p[9] == 1 && p[20] == 8 &&
				netip.AddrFrom4([4]byte(p[16:20])) == netip.MustParseAddr("192.168.30.1")
		})
		req := pkts[0]
		if src := netip.AddrFrom4([4]byte(req[12:16])); src != netip.MustParseAddr("192.168.30.10") {
			t.Errorf("echo request from %v, want 192.168.30.10", src)
		}
		// Answer it through Write: ping succeeding proves the write path.
		reply := make([]byte, offset+len(req))
		copy(reply[offset:], echoReply(req))
		if n, err := tn.Write([][]byte{reply}, offset); n != 1 || err != nil {
			t.Fatalf("Write(echo reply) = %d, %v", n, err)
		}
		if err := ping.Wait(); err != nil {
			t.Errorf("ping did not get the reply written to the TUN: %v\n%s", err, pingOut.String())
		}
	})

	t.Run("write offset", func(t *testing.T) {
		req := ipv4UDP(netip.MustParseAddr("192.168.30.1"), netip.MustParseAddr("192.168.30.10"), 9, 9, []byte("x"))
		buf := make([]byte, MinWriteOffset+len(req))
		copy(buf[MinWriteOffset:], req)
		if _, err := tn.Write([][]byte{buf}, MinWriteOffset); err != nil {
			t.Errorf("Write at MinWriteOffset: %v", err)
		}
		if tn.BatchSize() > 1 { // vnet_hdr on: wireguard-go needs headroom for it
			buf := make([]byte, MinWriteOffset-1+len(req))
			copy(buf[MinWriteOffset-1:], req)
			_, err := tn.Write([][]byte{buf}, MinWriteOffset-1)
			t.Logf("Write at offset %d: %v", MinWriteOffset-1, err)
			if err == nil {
				t.Errorf("Write at offset %d succeeded; MinWriteOffset is stale", MinWriteOffset-1)
			}
		}
	})

	t.Run("UDP GSO read is split into a batch", func(t *testing.T) {
		const seg, segs = 500, 4
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 77, 0, 1), Port: 9999})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		rc, _ := c.SyscallConn()
		var serr error
		rc.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_UDP, unix.UDP_SEGMENT, seg) })
		if serr != nil {
			t.Skipf("UDP_SEGMENT: %v", serr)
		}
		if _, err := c.Write(make([]byte, seg*segs)); err != nil {
			t.Fatalf("write GSO datagram: %v", err)
		}
		pkts := next("UDP to 10.77.0.1:9999", func(p []byte) bool {
			return len(p) >= 28 && p[0]>>4 == 4 && p[9] == 17 && binary.BigEndian.Uint16(p[22:]) == 9999
		})
		t.Logf("one Read returned %d packet(s) of sizes %v for a %d x %d byte UDP GSO send", len(pkts), sizesOf(pkts), segs, seg)
		if tn.BatchSize() > 1 && len(pkts) != segs {
			// With vnet_hdr the kernel hands over one super-packet when USO
			// was accepted; count what we got, in later Reads too.
			total := len(pkts)
			for total < segs {
				total += len(next("more UDP segments", func([]byte) bool { return true }))
			}
			t.Logf("kernel segmented it itself (no USO on the TUN): %d Reads", total)
		}
		for _, p := range pkts {
			if len(p) != 20+8+seg {
				t.Errorf("segment of %d bytes, want %d", len(p), 20+8+seg)
			}
		}
	})

	// Close while the reader is blocked: it must get os.ErrClosed.
	if err := tn.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case r := <-results:
		for r.err == nil {
			r = <-results
		}
		if !errors.Is(r.err, os.ErrClosed) {
			t.Errorf("blocked Read after Close: %v, want os.ErrClosed", r.err)
		}
	case <-time.After(3 * time.Second):
		t.Error("blocked Read did not return within 3s of Close")
	}
	if err := tn.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	var out []byte
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if out, err = exec.Command("ip", "link", "show", name).CombinedOutput(); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("device %s still present 3s after Close:\n%s", name, out)
		}
	}
	t.Logf("after Close, ip link show %s: %s", name, strings.TrimSpace(string(out)))
}

func sizesOf(pkts [][]byte) []int {
	s := make([]int, len(pkts))
	for i, p := range pkts {
		s[i] = len(p)
	}
	return s
}

// echoReply turns an IPv4 ICMP echo request into its reply.
func echoReply(req []byte) []byte {
	p := append([]byte(nil), req...)
	ihl := int(p[0]&0x0f) * 4
	copy(p[12:16], req[16:20])
	copy(p[16:20], req[12:16])
	p[8] = 64
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], inetChecksum(p[:ihl]))
	icmp := p[ihl:]
	icmp[0] = 0 // echo reply
	icmp[2], icmp[3] = 0, 0
	binary.BigEndian.PutUint16(icmp[2:], inetChecksum(icmp))
	return p
}

// ipv4UDP builds an IPv4 UDP packet with a zero (absent) UDP checksum.
func ipv4UDP(src, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	p := make([]byte, 28+len(payload))
	p[0] = 0x45
	binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	p[8], p[9] = 64, 17
	s, d := src.As4(), dst.As4()
	copy(p[12:], s[:])
	copy(p[16:], d[:])
	binary.BigEndian.PutUint16(p[10:], inetChecksum(p[:20]))
	binary.BigEndian.PutUint16(p[20:], sport)
	binary.BigEndian.PutUint16(p[22:], dport)
	binary.BigEndian.PutUint16(p[24:], uint16(8+len(payload)))
	copy(p[28:], payload)
	return p
}

// inetChecksum is the RFC 1071 Internet checksum.
func inetChecksum(b []byte) uint16 {
	var sum uint32
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
