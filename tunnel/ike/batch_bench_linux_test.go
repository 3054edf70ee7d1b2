package ike

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"

	"github.com/corridorvpn/corridor/tunnel/esp"
)

// BenchmarkSendBatch: what one 1400-byte packet costs from an L2TP
// datagram to the kernel, ESP sealing included, through a real socket to
// a sink on loopback (drained by a goroutine), sent one by one
// (WritePacket: a sendto each), in batches of 64 with sendmmsg and no
// GSO, and in batches of 64 with UDP GSO. ns/op is per packet.
func BenchmarkSendBatch(b *testing.B) {
	for _, mode := range []string{"one-by-one", "sendmmsg", "gso"} {
		for _, s := range []benchSuite{benchSuites[0], benchSuites[4]} {
			b.Run(mode+"/"+s.name, func(b *testing.B) {
				sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				defer sink.Close()
				go func() {
					buf := make([]byte, 65536)
					for {
						if _, err := sink.Read(buf); err != nil {
							return
						}
					}
				}()
				u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				defer u.Close()
				sinkPort := uint16(sink.LocalAddr().(*net.UDPAddr).Port)
				cfg := Config{L2TPPort: 1701, Logger: slog.New(slog.DiscardHandler)}
				cfg.serverPorts = [2]uint16{sinkPort, sinkPort}
				cfg.setDefaults()
				c := newConn(cfg, u, u.LocalAddr().(*net.UDPAddr).AddrPort(), netip.MustParseAddr("127.0.0.1"))
				out, err := esp.NewSA(0x80001000, s.suite, benchKeymat(s))
				if err != nil {
					b.Fatal(err)
				}
				c.out.Store(out)
				if mode == "sendmmsg" {
					c.bio.(*linuxBatchIO).gso.Store(false)
				}
				const batch = 64
				bufs := make([][]byte, batch)
				offs := make([]int, batch)
				for i := range bufs {
					bufs[i] = make([]byte, benchHeadroom+benchPayload, 2048)
				}
				b.SetBytes(benchPayload)
				b.ReportAllocs()
				if mode == "one-by-one" {
					for b.Loop() {
						if err := c.WritePacket(bufs[0], benchHeadroom-10); err != nil {
							b.Fatal(err)
						}
					}
					return
				}
				n := 0
				for b.Loop() {
					if n++; n < batch {
						continue // a batch goes out every 64th packet
					}
					n = 0
					for i := range offs {
						offs[i] = benchHeadroom - 10
					}
					if _, err := c.WritePackets(bufs, offs); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
