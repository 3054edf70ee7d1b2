package l2tp

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// TestSoftEtherCapture parses every datagram of a raw-L2TP session captured
// between corridor and a real SoftEther VPN Server (testdata), checks the
// header fields the capture's decoder (tcpdump) saw, and round-trips every
// control message through ParseMessage and AppendTo.
func TestSoftEtherCapture(t *testing.T) {
	f, err := os.Open("testdata/softether-raw-l2tp.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ctrl, data, zlb int
	types := map[MsgType]bool{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		fields := strings.SplitN(sc.Text(), "\t", 3)
		pkt, err := hex.DecodeString(fields[1])
		if err != nil {
			t.Fatalf("line %d: %v", line, err)
		}
		h, off, end, err := ParseHeader(pkt)
		if err != nil {
			t.Fatalf("line %d (%s): %v", line, fields[2], err)
		}
		if !h.Control {
			data++
			if end-off < 4 || pkt[off] != 0xff || pkt[off+1] != 0x03 {
				t.Errorf("line %d: data payload does not start with a PPP frame: % x", line, pkt[off:end])
			}
			continue
		}
		if !strings.Contains(fields[2], "[TLS]") {
			t.Errorf("line %d: control frame without T, L, S per the capture: %s", line, fields[2])
		}
		m, err := ParseMessage(pkt[off:end], nil)
		if err != nil {
			t.Fatalf("line %d (%s): %v", line, fields[2], err)
		}
		if m == nil {
			zlb++
			if !strings.Contains(fields[2], "ZLB") {
				t.Errorf("line %d: parsed as ZLB, capture says %s", line, fields[2])
			}
			continue
		}
		ctrl++
		types[m.Type] = true
		if !strings.Contains(fields[2], "MSGTYPE("+m.Type.String()+")") {
			t.Errorf("line %d: message %v, capture says %s", line, m.Type, fields[2])
		}
		enc, err := m.AppendTo(nil, nil, nil)
		if err != nil {
			t.Fatalf("line %d: encode: %v", line, err)
		}
		if !bytes.Equal(enc, pkt[off:end]) {
			t.Errorf("line %d: %v re-encodes differently:\n got % x\nwant % x", line, m.Type, enc, pkt[off:end])
		}
	}
	for _, want := range []MsgType{MsgSCCRQ, MsgSCCRP, MsgSCCCN, MsgICRQ, MsgICRP, MsgICCN} {
		if !types[want] {
			t.Errorf("capture has no %v", want)
		}
	}
	if data == 0 || zlb == 0 {
		t.Errorf("capture has %d data messages and %d ZLBs; want some of each", data, zlb)
	}
	t.Logf("%d control messages, %d ZLBs, %d data messages", ctrl, zlb, data)
}
