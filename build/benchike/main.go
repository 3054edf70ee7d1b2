// Command benchike is the helper of build/bench-ike.sh (IKEv1 handshake
// timing, Corridor vs strongSwan's charon, against SoftEther). Standard
// library only.
//
//	benchike run [-until RE] [-timeout D] -- CMD ARGS...
//	    Starts CMD and prints "start <unix>", then "<unix> <line>" for each
//	    line CMD writes to stdout as it arrives, then "exit <unix> <code>".
//	    When a line matches RE (or after D) CMD gets SIGTERM; it gets
//	    SIGKILL 15 s later if still running. SIGINT/SIGTERM to benchike
//	    are passed on to CMD.
//	benchike wire -pcap FILE -client IP -server IP [-lines FILE] [-trigger UNIX]
//	    Reads a capture of one round (tcpdump -w, Ethernet or Linux cooked)
//	    and prints one line of key=value: mm1 (the first Main Mode packet
//	    client->server:500), qm2 (the server's Quick Mode reply: the first
//	    server->client IKE packet with exchange type 32 whose message ID is
//	    one the client used in a Quick Mode of its own), wire_ms = qm2-mm1
//	    split into client_ms (gaps before packets the client sent: its own
//	    processing) and server_ms (gaps before packets it received: the
//	    server's processing and the link), packet counts, retransmissions
//	    (byte-identical IKE payloads sent
//	    again in the same direction) and Quick Modes the server started
//	    itself. With -lines (the output of run) also start_sa_ms (process
//	    start to "ipsec: sa established"), start_conn_ms and start_qm2_ms;
//	    with -trigger (the time the client was told to connect) trig_qm2_ms.
//	benchike summary FILE
//	    Reads the lines "round=N client=NAME key=value..." that bench-ike.sh
//	    collected and prints the per-round table and the medians.
package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchike run|wire|summary ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(os.Args[2:])
	case "wire":
		err = wire(os.Args[2:])
	case "summary":
		err = summary(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchike:", err)
		os.Exit(1)
	}
}

func unix(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// ---- run ----

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	until := fs.String("until", "", "send SIGTERM when a stdout line matches this regexp")
	timeout := fs.Duration("timeout", 30*time.Second, "send SIGTERM after this long")
	fs.Parse(args)
	if fs.NArg() == 0 {
		return errors.New("run: no command")
	}
	var re *regexp.Regexp
	if *until != "" {
		var err error
		if re, err = regexp.Compile(*until); err != nil {
			return err
		}
	}
	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	fmt.Fprintf(out, "start %s\n", unix(start))
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- unix(time.Now()) + " " + sc.Text()
		}
		close(lines)
	}()
	waited := make(chan error, 1)
	timer := time.NewTimer(*timeout)
	var kill <-chan time.Time
	term := func() {
		if kill == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			kill = time.After(15 * time.Second)
		}
	}
	for lines != nil {
		select {
		case l, ok := <-lines:
			if !ok {
				lines = nil
				break
			}
			fmt.Fprintln(out, l)
			if re != nil && re.MatchString(l[strings.IndexByte(l, ' ')+1:]) {
				term()
			}
		case <-timer.C:
			fmt.Fprintf(out, "%s timeout after %v\n", unix(time.Now()), *timeout)
			term()
		case s := <-sigs:
			cmd.Process.Signal(s)
			if kill == nil {
				kill = time.After(15 * time.Second)
			}
		case <-kill:
			cmd.Process.Kill()
		}
	}
	go func() { waited <- cmd.Wait() }()
	var werr error
	for done := false; !done; {
		select {
		case werr = <-waited:
			done = true
		case s := <-sigs:
			cmd.Process.Signal(s)
		case <-kill:
			cmd.Process.Kill()
		}
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		return werr
	}
	fmt.Fprintf(out, "exit %s %d\n", unix(time.Now()), code)
	return nil
}

// ---- wire ----

type packet struct {
	t        time.Time
	src, dst netip.AddrPort
	payload  []byte // UDP payload
}

// readPcap reads a classic pcap file (micro- or nanosecond, either byte
// order) of IPv4/UDP packets on Ethernet (1), Linux cooked (113) or Linux
// cooked v2 (276) links; everything else is skipped.
func readPcap(r io.Reader) ([]packet, error) {
	var hdr [24]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("pcap header: %w", err)
	}
	var bo binary.ByteOrder
	var nano bool
	switch {
	case binary.LittleEndian.Uint32(hdr[:]) == 0xa1b2c3d4:
		bo = binary.LittleEndian
	case binary.BigEndian.Uint32(hdr[:]) == 0xa1b2c3d4:
		bo = binary.BigEndian
	case binary.LittleEndian.Uint32(hdr[:]) == 0xa1b23c4d:
		bo, nano = binary.LittleEndian, true
	case binary.BigEndian.Uint32(hdr[:]) == 0xa1b23c4d:
		bo, nano = binary.BigEndian, true
	default:
		return nil, errors.New("not a pcap file (pcapng is not supported)")
	}
	link := bo.Uint32(hdr[20:]) & 0x0fffffff
	var pkts []packet
	for {
		var ph [16]byte
		if _, err := io.ReadFull(r, ph[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return pkts, nil // tcpdump stopped mid-record: keep what we have
			}
			return nil, err
		}
		sec, frac, incl := bo.Uint32(ph[0:]), bo.Uint32(ph[4:]), bo.Uint32(ph[8:])
		if incl > 1<<20 {
			return nil, fmt.Errorf("bad record length %d", incl)
		}
		data := make([]byte, incl)
		if _, err := io.ReadFull(r, data); err != nil {
			return pkts, nil
		}
		ns := int64(frac) * 1000
		if nano {
			ns = int64(frac)
		}
		t := time.Unix(int64(sec), ns)
		var ethType uint16
		var ip []byte
		switch link {
		case 1:
			if len(data) < 14 {
				continue
			}
			ethType, ip = binary.BigEndian.Uint16(data[12:]), data[14:]
		case 113:
			if len(data) < 16 {
				continue
			}
			ethType, ip = binary.BigEndian.Uint16(data[14:]), data[16:]
		case 276:
			if len(data) < 20 {
				continue
			}
			ethType, ip = binary.BigEndian.Uint16(data[0:]), data[20:]
		default:
			return nil, fmt.Errorf("link type %d not supported", link)
		}
		if ethType != 0x0800 || len(ip) < 20 || ip[0]>>4 != 4 || ip[9] != 17 {
			continue
		}
		ihl := int(ip[0]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
			continue // a fragment: IKE here fits in one packet
		}
		if total > len(ip) || ihl < 20 || total < ihl+8 {
			continue
		}
		udp := ip[ihl:total]
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), binary.BigEndian.Uint16(udp[0:]))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), binary.BigEndian.Uint16(udp[2:]))
		pkts = append(pkts, packet{t: t, src: src, dst: dst, payload: udp[8:]})
	}
}

// ikeHeader returns the ISAKMP header of an IKE packet: on port 500 the
// payload itself, on 4500 after the 4-byte non-ESP marker (ESP and NAT
// keepalives give ok=false).
func ikeHeader(p packet) (isakmp []byte, ok bool) {
	b := p.payload
	if p.src.Port() == 4500 || p.dst.Port() == 4500 {
		if len(b) < 4 || !bytes.Equal(b[:4], []byte{0, 0, 0, 0}) {
			return nil, false
		}
		b = b[4:]
	}
	if len(b) < 28 {
		return nil, false
	}
	return b, true
}

const (
	exIdentityProtection = 2
	exQuickMode          = 32
)

func wire(args []string) error {
	fs := flag.NewFlagSet("wire", flag.ExitOnError)
	pcapFile := fs.String("pcap", "", "capture of one round")
	clientS := fs.String("client", "", "client address")
	serverS := fs.String("server", "", "server address")
	linesFile := fs.String("lines", "", "output of benchike run for this round")
	trigger := fs.String("trigger", "", "unix time the client was told to connect")
	fs.Parse(args)
	client, err := netip.ParseAddr(*clientS)
	if err != nil {
		return fmt.Errorf("-client: %w", err)
	}
	server, err := netip.ParseAddr(*serverS)
	if err != nil {
		return fmt.Errorf("-server: %w", err)
	}
	f, err := os.Open(*pcapFile)
	if err != nil {
		return err
	}
	pkts, err := readPcap(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", *pcapFile, err)
	}

	var mm1, qm1, qm2, prev time.Time
	var cs, sc, retransC, retransS, serverQM int
	var clientTime, serverTime time.Duration // gaps before up / down packets
	var steps []string                       // every gap from MM1 to QM2, in ms
	clientQM := map[uint32]bool{}
	serverStarted := map[uint32]bool{}
	seen := map[string]bool{}
	for _, p := range pkts {
		up := p.src.Addr() == client && p.dst.Addr() == server
		down := p.src.Addr() == server && p.dst.Addr() == client
		if !up && !down {
			continue
		}
		h, ok := ikeHeader(p)
		if !ok {
			continue
		}
		ex, msgID := h[18], binary.BigEndian.Uint32(h[20:])
		if mm1.IsZero() {
			if up && p.dst.Port() == 500 && ex == exIdentityProtection {
				mm1 = p.t
			} else {
				continue // before the handshake (should not happen)
			}
		}
		if !prev.IsZero() {
			steps = append(steps, fmt.Sprintf("%.3f", float64(p.t.Sub(prev))/1e6))
			if up {
				clientTime += p.t.Sub(prev)
			} else {
				serverTime += p.t.Sub(prev)
			}
		}
		prev = p.t
		key := fmt.Sprintf("%v|%x", up, h)
		if seen[key] {
			if up {
				retransC++
			} else {
				retransS++
			}
		}
		seen[key] = true
		if up {
			cs++
			if ex == exQuickMode && !serverStarted[msgID] {
				if qm1.IsZero() {
					qm1 = p.t
				}
				clientQM[msgID] = true
			}
			continue
		}
		sc++
		if ex == exQuickMode {
			if clientQM[msgID] {
				qm2 = p.t
				break
			}
			if !serverStarted[msgID] {
				serverStarted[msgID] = true
				serverQM++
			}
		}
	}
	kv := []string{}
	add := func(k, v string) { kv = append(kv, k+"="+v) }
	ms := func(a, b time.Time) string {
		if a.IsZero() || b.IsZero() {
			return "NA"
		}
		return fmt.Sprintf("%.3f", float64(b.Sub(a))/1e6)
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "NA"
		}
		return unix(t)
	}
	add("mm1", ts(mm1))
	add("qm2", ts(qm2))
	add("wire_ms", ms(mm1, qm2))
	add("mm1_qm1_ms", ms(mm1, qm1))
	add("qm1_qm2_ms", ms(qm1, qm2))
	if !qm2.IsZero() {
		add("client_ms", fmt.Sprintf("%.3f", float64(clientTime)/1e6))
		add("server_ms", fmt.Sprintf("%.3f", float64(serverTime)/1e6))
		add("steps", strings.Join(steps, ","))
	} else {
		add("client_ms", "NA")
		add("server_ms", "NA")
	}
	add("pkts_up", strconv.Itoa(cs))
	add("pkts_down", strconv.Itoa(sc))
	add("retrans_up", strconv.Itoa(retransC))
	add("retrans_down", strconv.Itoa(retransS))
	add("server_qm", strconv.Itoa(serverQM))
	if *trigger != "" {
		t, err := parseUnix(*trigger)
		if err != nil {
			return fmt.Errorf("-trigger: %w", err)
		}
		add("trig_mm1_ms", ms(t, mm1))
		add("trig_qm2_ms", ms(t, qm2))
	}
	if *linesFile != "" {
		start, sa, conn, exit, code, err := readLines(*linesFile)
		if err != nil {
			return err
		}
		add("start_mm1_ms", ms(start, mm1))
		add("start_qm2_ms", ms(start, qm2))
		add("start_sa_ms", ms(start, sa))
		add("start_conn_ms", ms(start, conn))
		add("run_s", func() string {
			if start.IsZero() || exit.IsZero() {
				return "NA"
			}
			return fmt.Sprintf("%.2f", exit.Sub(start).Seconds())
		}())
		add("exit", code)
	}
	fmt.Println(strings.Join(kv, " "))
	return nil
}

func parseUnix(s string) (time.Time, error) {
	sec, frac, _ := strings.Cut(s, ".")
	a, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	frac = (frac + "000000000")[:9]
	b, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(a, b), nil
}

// readLines reads the output of run: the start time, the times of the first
// "ipsec: sa established" and "connected:" lines, the exit time and code.
func readLines(name string) (start, sa, conn, exit time.Time, code string, err error) {
	code = "NA"
	b, err := os.ReadFile(name)
	if err != nil {
		return
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		switch {
		case f[0] == "start":
			start, _ = parseUnix(f[1])
		case f[0] == "exit" && len(f) >= 3:
			exit, _ = parseUnix(f[1])
			code = f[2]
		default:
			rest := strings.TrimSpace(strings.TrimPrefix(l, f[0]))
			if strings.HasPrefix(rest, "ipsec: sa established") && sa.IsZero() {
				sa, _ = parseUnix(f[0])
			}
			if strings.HasPrefix(rest, "connected:") && conn.IsZero() {
				conn, _ = parseUnix(f[0])
			}
		}
	}
	return
}

// ---- summary ----

type record struct {
	round  string
	client string
	kv     map[string]string
}

func (r record) num(k string) (float64, bool) {
	v, err := strconv.ParseFloat(r.kv[k], 64)
	return v, err == nil
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func summary(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: summary FILE")
	}
	b, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var recs []record
	for _, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		r := record{kv: map[string]string{}}
		for _, f := range strings.Fields(l) {
			k, v, _ := strings.Cut(f, "=")
			r.kv[k] = v
		}
		r.round, r.client = r.kv["round"], r.kv["client"]
		recs = append(recs, r)
	}
	val := func(r record, k string) string {
		if v, ok := r.kv[k]; ok {
			return v
		}
		return "-"
	}
	const format = "%-5s %-8s %-12s %9s %9s %9s %10s %10s %10s %6s %7s %6s\n"
	fmt.Printf(format, "round", "client", "address", "MM1->QM2", "client", "server", "trig->MM1", "trig->QM2", "start->SA", "pkts", "retrans", "srv-QM")
	fmt.Printf(format, "", "", "", "ms (wire)", "ms", "ms", "ms", "ms", "ms", "up/dn", "up/dn", "")
	wireMs := map[string][]float64{}
	startSA, startQM2, trigQM2 := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	clientMs, serverMs := map[string][]float64{}, map[string][]float64{}
	fails := map[string]int{}
	for _, r := range recs {
		trigMM1, trigQ := val(r, "trig_mm1_ms"), val(r, "trig_qm2_ms")
		if r.client == "corridor" {
			trigMM1, trigQ = val(r, "start_mm1_ms"), val(r, "start_qm2_ms")
		}
		fmt.Printf(format, r.round, r.client, val(r, "addr"), val(r, "wire_ms"), val(r, "client_ms"), val(r, "server_ms"),
			trigMM1, trigQ, val(r, "start_sa_ms"),
			val(r, "pkts_up")+"/"+val(r, "pkts_down"), val(r, "retrans_up")+"/"+val(r, "retrans_down"), val(r, "server_qm"))
		if v, ok := r.num("client_ms"); ok {
			clientMs[r.client] = append(clientMs[r.client], v)
		}
		if v, ok := r.num("server_ms"); ok {
			serverMs[r.client] = append(serverMs[r.client], v)
		}
		if v, ok := r.num("wire_ms"); ok {
			wireMs[r.client] = append(wireMs[r.client], v)
		} else {
			fails[r.client]++
		}
		if v, ok := r.num("start_sa_ms"); ok {
			startSA[r.client] = append(startSA[r.client], v)
		}
		if v, ok := r.num("start_qm2_ms"); ok {
			startQM2[r.client] = append(startQM2[r.client], v)
		}
		if v, ok := r.num("trig_qm2_ms"); ok {
			trigQM2[r.client] = append(trigQM2[r.client], v)
		}
	}
	fmt.Println("client/server: MM1->QM2 split into the gaps before packets the client sent (its processing)")
	fmt.Println("and before packets it received (the server's processing and the link)")
	fmt.Println("trig = swanctl --initiate started (charon already running) / corridor process started")
	fmt.Println("pkts: IKE packets up to QM2; retrans: byte-identical resends; srv-QM: Quick Modes the server started itself")
	fmt.Println()
	mc, mr := median(wireMs["charon"]), median(wireMs["corridor"])
	line := func(label string, xs []float64, nfail int) {
		s := fmt.Sprintf("%-50s %9.3f ms  (n=%d", label, median(xs), len(xs))
		if len(xs) > 0 {
			s += fmt.Sprintf(", min %.3f, max %.3f", minOf(xs), maxOf(xs))
		}
		if nfail > 0 {
			s += fmt.Sprintf(", %d rounds without QM2", nfail)
		}
		fmt.Println(s + ")")
	}
	fmt.Println("summary (medians)")
	line("charon   MM1 -> QM2 on the wire", wireMs["charon"], fails["charon"])
	line("corridor MM1 -> QM2 on the wire", wireMs["corridor"], fails["corridor"])
	fmt.Printf("%-50s %9.3f\n", "ratio corridor/charon (wire)", mr/mc)
	line("charon   client share of MM1 -> QM2", clientMs["charon"], 0)
	line("corridor client share of MM1 -> QM2", clientMs["corridor"], 0)
	line("charon   server share of MM1 -> QM2", serverMs["charon"], 0)
	line("corridor server share of MM1 -> QM2", serverMs["corridor"], 0)
	line("corridor process start -> ipsec: sa established", startSA["corridor"], 0)
	line("corridor process start -> QM2 on the wire", startQM2["corridor"], 0)
	line("charon   swanctl --initiate -> QM2 on the wire", trigQM2["charon"], 0)

	// Step medians over the rounds with the plain 8-packet exchange.
	labels := []string{"MM1>MM2 srv", "MM2>MM3 cli", "MM3>MM4 srv", "MM4>MM5 cli", "MM5>MM6 srv", "MM6>QM1 cli", "QM1>QM2 srv"}
	fmt.Println()
	fmt.Printf("%-10s", "steps ms")
	for _, l := range labels {
		fmt.Printf(" %11s", l)
	}
	fmt.Println("   (medians, rounds with 8 packets and no resend)")
	for _, c := range []string{"charon", "corridor"} {
		cols := make([][]float64, len(labels))
		n := 0
		for _, r := range recs {
			st := strings.Split(r.kv["steps"], ",")
			if r.client != c || len(st) != len(labels) || r.kv["retrans_up"] != "0" || r.kv["retrans_down"] != "0" {
				continue
			}
			n++
			for i, x := range st {
				v, _ := strconv.ParseFloat(x, 64)
				cols[i] = append(cols[i], v)
			}
		}
		fmt.Printf("%-10s", c)
		for _, col := range cols {
			fmt.Printf(" %11.3f", median(col))
		}
		fmt.Printf("   (n=%d)\n", n)
	}
	return nil
}

func minOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = math.Min(m, x)
	}
	return m
}

func maxOf(xs []float64) float64 {
	m := xs[0]
	for _, x := range xs {
		m = math.Max(m, x)
	}
	return m
}
