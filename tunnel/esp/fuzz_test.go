package esp

import (
	"encoding/binary"
	"testing"
)

// FuzzOpen feeds arbitrary datagrams to Open under every suite: it must
// neither panic nor return bounds outside the packet. The first byte picks
// the suite; the SPI is forced to the SA's so that the checks past the SPI
// are reached. Seeds are authentic packets, which reach the padding check.
func FuzzOpen(f *testing.F) {
	for i, s := range allSuites {
		tx := mustSA(f, s, s.EncKeyLens()[0])
		for _, payload := range []string{"", "x", "0123456789abcdef0123456789abcdef0123"} {
			f.Add(append([]byte{byte(i)}, sealOne(f, tx, payload)...))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0xff})
	sas := make([]*SA, len(allSuites))
	for i, s := range allSuites {
		sas[i] = mustSA(f, s, s.EncKeyLens()[0])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		sa := sas[int(b[0])%len(sas)]
		// A fresh window each time, so that results don't depend on the
		// order inputs run in.
		sa.win = window{}
		pkt := b[1:]
		if len(pkt) >= 4 {
			binary.BigEndian.PutUint32(pkt, sa.spi)
		}
		off, end, _, err := sa.Open(pkt, 0, len(pkt))
		if err == nil && (off < sa.head || end < off || end > len(pkt)) {
			t.Fatalf("Open returned [%d,%d) of a %d-byte packet", off, end, len(pkt))
		}
		PeekSPI(pkt)
	})
}
