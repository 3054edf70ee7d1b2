package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// strongSwan's charon (Debian's strongswan-charon, strongswan-swanctl and
// plugin packages, which build/setup.sh installs) as an IKEv1 Aggressive
// Mode responder with a pre-shared key, in a network namespace of its own.
// Its kernel-libipsec cannot install the transport-mode SAs L2TP uses
// ("unsupported mode", DESIGN.md 6): it negotiates them on the wire, then
// deletes them. So these tests check the handshake up to the SAs, from
// both sides: Corridor's stage lines and -v trace, and charon's log of
// every message it parsed and generated.
const (
	charonBin    = "/usr/lib/ipsec/charon"
	charonNet    = "10.99.161"
	charonPSK    = "am-test-psk-7"
	charonGroup  = "vpn-users" // FQDN-type ID of connection am
	charonKeyID  = "sales"     // KEY_ID-type ID of connection amk
	charonServer = charonNet + ".1"
)

// charonRig is a charon responder and a client namespace linked by a veth
// pair: server charonNet.1, client charonNet.2.
type charonRig struct {
	dir      string
	sns, cns string
	uri      string
	cmd      *exec.Cmd
	done     chan struct{}
}

// charonSpec is what differs between the charon rigs: names, addresses
// and configuration.
type charonSpec struct {
	tag      string            // prefix of the namespace and veth names
	net      string            // the /24: server .1, client .2
	more     []string          // more server addresses (last octets)
	settings string            // more lines in strongswan.conf's charon section
	swan     string            // swanctl.conf
	files    map[string][]byte // more files in the swanctl directory (SWANCTL_DIR)
}

func startCharon(t *testing.T) *charonRig {
	t.Helper()
	child := func(name string) string {
		return fmt.Sprintf(`children {
      %s {
        local_ts = %s[udp/1701]
        remote_ts = dynamic[udp/1701]
        esp_proposals = aes128gcm16,aes128-sha256,aes128-sha1
        mode = transport
      }
    }`, name, charonServer)
	}
	swan := fmt.Sprintf(`connections {
  am {
    version = 1
    aggressive = yes
    local_addrs = %[1]s
    proposals = aes256-sha256-modp2048
    local {
      auth = psk
      id = %[1]s
    }
    remote {
      auth = psk
      id = fqdn:%[2]s
    }
    %[4]s
  }
  amk {
    version = 1
    aggressive = yes
    local_addrs = %[1]s
    proposals = aes256-sha256-modp2048
    local {
      auth = psk
      id = %[1]s
    }
    remote {
      auth = psk
      id = keyid:%[3]s
    }
    %[5]s
  }
}
secrets {
  ike-am {
    secret = "%[6]s"
  }
}
`, charonServer, charonGroup, charonKeyID, child("l2tp"), child("l2tpk"), charonPSK)
	return startCharonSpec(t, charonSpec{tag: "cam", net: charonNet, swan: swan,
		// charon refuses Aggressive Mode with a PSK unless told (RFC 2409 5:
		// it hands out a hash of the key).
		settings: "i_dont_care_about_security_and_use_aggressive_mode_psk = yes"})
}

func startCharonSpec(t *testing.T, spec charonSpec) *charonRig {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and runs strongSwan's charon")
	}
	for _, p := range []string{charonBin, "/usr/sbin/swanctl", "/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("needs strongSwan (%s missing): build/setup.sh installs strongswan-charon, strongswan-swanctl, libcharon-extra-plugins, libstrongswan-standard-plugins", p)
		}
	}
	dir := t.TempDir()
	id := os.Getpid() % 100000
	r := &charonRig{dir: dir, sns: fmt.Sprintf("%s%ds", spec.tag, id), cns: fmt.Sprintf("%s%dc", spec.tag, id),
		uri: "unix://" + filepath.Join(dir, "charon.vici"), done: make(chan struct{})}
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", r.sns).Run()
		exec.Command("ip", "netns", "del", r.cns).Run()
	})
	sh("ip", "netns", "add", r.sns)
	sh("ip", "netns", "add", r.cns)
	v0, v1 := spec.tag+"v0", spec.tag+"v1"
	sh("ip", "link", "add", v0, "netns", r.sns, "type", "veth", "peer", "name", v1, "netns", r.cns)
	sh("ip", "-n", r.sns, "addr", "add", spec.net+".1/24", "dev", v0)
	for _, a := range spec.more {
		sh("ip", "-n", r.sns, "addr", "add", spec.net+"."+a+"/24", "dev", v0)
	}
	sh("ip", "-n", r.cns, "addr", "add", spec.net+".2/24", "dev", v1)
	for _, ns := range []string{r.sns, r.cns} {
		sh("ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh("ip", "-n", r.sns, "link", "set", v0, "up")
	sh("ip", "-n", r.cns, "link", "set", v1, "up")

	conf := fmt.Sprintf(`charon {
  load = random nonce openssl kdf pem pkcs1 x509 kernel-libipsec kernel-netlink socket-default vici
  %s
  install_routes = no
  install_virtual_ip = no
  plugins {
    vici {
      socket = %s
    }
  }
  syslog {
    daemon {
      default = -1
    }
  }
  filelog {
    e2e {
      path = %s
      time_format = %%H:%%M:%%S
      default = 1
      flush_line = yes
    }
  }
}
`, spec.settings, r.uri, filepath.Join(dir, "charon.log"))
	for name, data := range spec.files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range map[string]string{"strongswan.conf": conf, "swanctl.conf": spec.swan} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := filepath.Join(dir, "run")
	os.Mkdir(run, 0o700)
	// A private /run (charon's pid file) in a mount namespace of its own;
	// sh execs charon, so the process is charon itself.
	r.cmd = exec.Command("ip", "netns", "exec", r.sns, "unshare", "-m", "--propagation", "private",
		"sh", "-c", `mount --bind "$1" /run && exec "$2"`, "charon", run, charonBin)
	r.cmd.Env = append(os.Environ(), "STRONGSWAN_CONF="+filepath.Join(dir, "strongswan.conf"), "SWANCTL_DIR="+dir)
	out, err := os.Create(filepath.Join(dir, "charon.out"))
	if err != nil {
		t.Fatal(err)
	}
	r.cmd.Stdout, r.cmd.Stderr = out, out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); out.Close(); close(r.done) }()
	t.Cleanup(func() {
		r.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			r.cmd.Process.Kill()
			<-r.done
		}
		if t.Failed() {
			t.Logf("charon log:\n%s", r.log())
		}
	})
	swanctl := func(args ...string) error {
		cmd := exec.Command("swanctl", append(args, "--uri", r.uri)...)
		cmd.Env = r.cmd.Env
		o, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("swanctl %v: %v\n%s", args, err, o)
		}
		return nil
	}
	deadline := time.Now().Add(10 * time.Second)
	for swanctl("--stats") != nil {
		select {
		case <-r.done:
			b, _ := os.ReadFile(filepath.Join(dir, "charon.out"))
			t.Fatalf("charon ended at start:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("charon's vici socket did not come up in 10 s:\n%s", r.log())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := swanctl("--load-all", "--file", filepath.Join(dir, "swanctl.conf")); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *charonRig) log() string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "charon.log"))
	return string(b)
}

// waitLog polls charon's log from offset before (at most d) until re
// matches, and returns that part of the log either way.
func (r *charonRig) waitLog(before int, re *regexp.Regexp, d time.Duration) string {
	var log string
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if log = r.log()[before:]; re.MatchString(log) {
			break
		}
	}
	return log
}

// qm3Parsed is charon's line for our Quick Mode message 3.
var qm3Parsed = regexp.MustCompile(`parsed QUICK_MODE request \d+ \[ HASH \]`)

// qm3Wait bounds the wait for charon to parse our QM3 before the client is
// stopped: a QM3 lost on the way is sent again when charon repeats QM2,
// which its IKEv1 task manager does while it expects a further request
// (build_response: retransmit when expect_request), after 4 s and then
// 7.2 s more (retransmit_timeout 4, retransmit_base 1.8): the wait covers
// both.
const qm3Wait = 15 * time.Second

// corridor runs corridor connect -v in the client namespace with psk and
// the extra flags.
func (r *charonRig) corridor(t *testing.T, psk string, extra ...string) *client {
	t.Helper()
	dir := t.TempDir()
	pw, pf := filepath.Join(dir, "password"), filepath.Join(dir, "psk")
	os.WriteFile(pw, []byte("pw-unused-3\n"), 0o600)
	os.WriteFile(pf, []byte(psk+"\n"), 0o600)
	args := append([]string{"netns", "exec", r.cns, corridorBin, "connect", "-v", "--user", "alice",
		"--password-file", pw, "--psk-file", pf, "--ifname", "camtun0"}, extra...)
	return startCmd(t, exec.CommandContext(context.Background(), "ip", append(args, charonServer)...))
}

// waitLine waits for a stdout line starting with prefix and returns it.
func (c *client) waitLine(prefix string, timeout time.Duration) string {
	c.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case l := <-c.lines:
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-c.waited:
			code, _ := c.exit(time.Second)
			c.t.Fatalf("corridor exited (%d) before %q", code, prefix)
		case <-deadline:
			c.t.Fatalf("no %q within %v", prefix, timeout)
		}
	}
}

// TestCharonAggressive: corridor connect --aggressive --group NAME against
// charon as the responder: with an FQDN and a KEY_ID group name the IKE SA
// and the Quick Mode SAs are negotiated (charon then deletes the SA pair it
// cannot install); a wrong pre-shared key and a group name of the wrong
// type end in Corridor's plain words with exit code 3.
func TestCharonAggressive(t *testing.T) {
	r := startCharon(t)
	for _, tc := range []struct {
		name, conn, group string
		extra             []string
		idLog             string
	}{
		{"fqdn", "am", charonGroup, nil, "[" + charonGroup + "]"},
		{"keyid", "amk", charonKeyID, []string{"--group-type", "keyid"}, "[" + charonKeyID + "]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(r.log())
			c := r.corridor(t, charonPSK, append([]string{"--aggressive", "--group", tc.group}, tc.extra...)...)
			p1 := c.waitLine("ike: aggressive mode established", 15*time.Second)
			p2 := c.waitLine("ipsec: sa established", 15*time.Second)
			t.Logf("%v after start: %s; %s", time.Since(c.start).Round(time.Millisecond), p1, p2)
			// The client stays up until charon has our QM3, which a lost
			// datagram could delay (qm3Wait).
			log := r.waitLog(before, qm3Parsed, qm3Wait)
			c.cmd.Process.Signal(syscall.SIGTERM)
			c.exit(15 * time.Second)
			if qm3Parsed.MatchString(log) {
				log = r.log()[before:] // and what came after
			}
			qm3 := qm3Parsed
			// charon's side of the wire, message by message (RFC 2409
			// 5.4 with RFC 3947 NAT-D, then Quick Mode 5.5).
			for _, want := range []*regexp.Regexp{
				regexp.MustCompile(`parsed AGGRESSIVE request 0 \[ SA KE No ID V V V V V \]`),
				regexp.MustCompile(`selected peer config "` + tc.conn + `"`),
				regexp.MustCompile(`generating AGGRESSIVE response 0 \[ SA KE No ID V V V NAT-D NAT-D HASH \]`),
				regexp.MustCompile(`parsed AGGRESSIVE request 0 \[ HASH NAT-D NAT-D N\(INITIAL_CONTACT\) \]`),
				regexp.MustCompile(`IKE_SA ` + tc.conn + `\[\d+\] established between ` + regexp.QuoteMeta(charonServer+"["+charonServer+"]..."+charonNet+".2"+tc.idLog)),
				regexp.MustCompile(`parsed QUICK_MODE request \d+ \[ HASH SA No ID ID NAT-OA NAT-OA \]`),
				regexp.MustCompile(`generating QUICK_MODE response \d+ \[ HASH SA No ID ID NAT-OA NAT-OA \]`),
				qm3,
			} {
				if !want.MatchString(log) {
					t.Errorf("charon's log lacks %v", want)
				}
			}
			if strings.Contains(log, "ignoring QUICK_MODE request while phase 1 is incomplete") {
				t.Errorf("QM1 reached charon before AM3")
			}
			if !strings.Contains(log, "unsupported mode") {
				t.Logf("charon installed the transport-mode SAs after all?")
			}
			if strings.Contains(c.stderr()+c.stdout(), charonPSK) {
				t.Errorf("the pre-shared key appears in corridor's output")
			}
		})
	}

	t.Run("failures", func(t *testing.T) {
		// Both wait out the retransmissions (15.5 s): run them at once.
		var wg sync.WaitGroup
		for _, tc := range []struct {
			name, psk string
			extra     []string
			want      string
		}{
			{"wrong PSK", "not-the-key", nil, "the server's proof of the pre-shared key does not match ours: the pre-shared key is wrong"},
			{"group name of another type", charonPSK, []string{"--group-type", "keyid"}, "the server refused our group name (IKE Aggressive Mode)"},
		} {
			c := r.corridor(t, tc.psk, append([]string{"--aggressive", "--group", charonGroup}, tc.extra...)...)
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case <-c.waited:
				case <-time.After(25 * time.Second):
					t.Errorf("%s: corridor still running after 25 s", tc.name)
					return
				}
				code, took := c.exit(time.Second)
				if code != 3 || !strings.Contains(c.stderr(), "corridor: "+tc.want) || !strings.Contains(c.stderr(), "hint: ") {
					t.Errorf("%s: exit %d after %v, stderr:\n%s", tc.name, code, took, c.stderr())
				}
				if strings.Contains(c.stderr()+c.stdout(), charonPSK) || strings.Contains(c.stderr(), tc.psk) {
					t.Errorf("%s: a pre-shared key appears in corridor's output", tc.name)
				}
				t.Logf("%s: exit %d after %v", tc.name, code, took.Round(100*time.Millisecond))
			}()
		}
		wg.Wait()
		log := r.log()
		for _, want := range []string{"no peer config found", "generating INFORMATIONAL_V1 request \\d+ \\[ N\\(AUTH_FAILED\\) \\]"} {
			if !regexp.MustCompile(want).MatchString(log) {
				t.Errorf("charon's log lacks %q", want)
			}
		}
	})
}

// TestIPsecAggressiveSoftEther: SoftEther answers Aggressive Mode too
// (DESIGN.md 3); the whole stack comes up over it and pings pass.
func TestIPsecAggressiveSoftEther(t *testing.T) {
	s := server(t)
	c := startCorridor(t, s, s.Password, s.PSK, "-v", "--aggressive", "--group", "corridor-group")
	line := c.waitConnected(30 * time.Second)
	t.Logf("%s (%v after start)", line, time.Since(c.start).Round(time.Millisecond))
	lines := strings.Split(c.stdout(), "\n")
	if !strings.HasPrefix(lines[0], "ike: aggressive mode established (") {
		t.Errorf("first stage line %q", lines[0])
	}
	if !strings.Contains(c.stderr(), "warning: --aggressive: Aggressive Mode is less secure") {
		t.Errorf("no warning on stderr")
	}
	if got := ping(t, s, 5); got != 5 {
		t.Errorf("ping through L2TP/IPsec after Aggressive Mode: %d of 5 replies", got)
	}
	disconnectClean(t, s, c)
}
