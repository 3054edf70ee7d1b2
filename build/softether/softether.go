// Package softether runs a real SoftEther VPN Server (the Debian package) in
// its own network and mount namespaces for tests, through server.sh next to
// this file. See README.md in this directory.
package softether

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Default throwaway credentials of the test server; override them with the
// environment variables CORRIDOR_TEST_USER, CORRIDOR_TEST_PASSWORD and
// CORRIDOR_TEST_PSK.
const (
	DefaultUser     = "alice"
	DefaultPassword = "test-pass-1"
	DefaultPSK      = "test-psk-1"
)

// Server is a running SoftEther VPN Server configured for L2TP/IPsec and raw
// L2TP (UDP 500, 4500, 1701) with hub DEFAULT, one user, and SecureNAT
// (virtual host 192.168.30.1, DHCP 192.168.30.10-200; Options.VPNNet moves
// it).
type Server struct {
	Name     string
	Addr     string // "10.99.0.1"
	ClientNS string // network namespace where the client must run
	ServerNS string
	// VPNHost is SecureNAT's virtual host inside the VPN ("192.168.30.1"):
	// it answers ping, DHCP and DNS.
	VPNHost string

	User, Password, PSK string

	StateDir string
	PID      int

	joined   bool // started with Options.Join: serverMu is the first server's
	stopOnce sync.Once
	stopErr  error
	finalLog string // the log as it was when Stop removed the state directory
}

// serverMu serialises servers within one test process: the Debian SoftEther
// build mishandles concurrent raw-L2TP tunnels, and one server at a time is
// plenty. It is held from Start until Stop.
var serverMu sync.Mutex

// Script returns the path of server.sh.
func Script() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "server.sh"
	}
	return filepath.Join(filepath.Dir(file), "server.sh")
}

func getenv(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func randomName() string {
	for {
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			panic(err)
		}
		name := "ct" + hex.EncodeToString(b[:])
		_, errS := os.Lstat("/run/netns/" + name + "s")
		_, errC := os.Lstat("/run/netns/" + name + "c")
		_, errR := os.Lstat("/run/corridor-test/" + name)
		if errors.Is(errS, fs.ErrNotExist) && errors.Is(errC, fs.ErrNotExist) && errors.Is(errR, fs.ErrNotExist) {
			return name
		}
	}
}

// Options change how StartWith sets a server up; the zero value is Start's.
type Options struct {
	// Net is the first three octets of the veth /24 between the server
	// (.1) and the client (.2); "" is server.sh's default, 10.99.0.
	Net string
	// VPNNet is the first three octets of SecureNAT's /24 inside the VPN
	// (virtual host .1, DHCP .10-.200); "" is 192.168.30.
	VPNNet string
	// Join, when set, is a running server whose client namespace this one
	// shares: one client with two servers. Its veth and VPN nets must
	// differ from Join's. Stopping this server leaves the namespace to
	// Join; Stop it before Join (tb.Cleanup does, last in first out).
	Join *Server
}

// Start starts a fresh server with a random name and registers its Stop with
// tb.Cleanup. It skips the test when not root and fails it when the server
// does not come up. When the test has failed, the cleanup logs the server's
// log before stopping it.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return StartWith(tb, Options{})
}

// StartWith is Start with options.
func StartWith(tb testing.TB, o Options) *Server {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("needs root: creates network namespaces and runs SoftEther VPN Server")
	}
	env := os.Environ()
	if o.Net != "" {
		env = append(env, "CORRIDOR_NET="+o.Net)
	}
	if o.VPNNet != "" {
		env = append(env, "CORRIDOR_VPN_NET="+o.VPNNet)
	}
	if o.Join != nil {
		// The first server holds serverMu until it stops, after this one.
		env = append(env, "CORRIDOR_CLIENT_NS="+o.Join.ClientNS)
	} else {
		serverMu.Lock()
	}
	unlock := func() {
		if o.Join == nil {
			serverMu.Unlock()
		}
	}
	s := &Server{joined: o.Join != nil,
		Name:     randomName(),
		User:     getenv("CORRIDOR_TEST_USER", DefaultUser),
		Password: getenv("CORRIDOR_TEST_PASSWORD", DefaultPassword),
		PSK:      getenv("CORRIDOR_TEST_PSK", DefaultPSK),
	}
	// Installing the packages on a fresh CI machine may take minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	// This build of vpnserver sometimes dies at start (a segmentation
	// fault while vpncmd configures it, seen once in several hundred starts):
	// that is the fixture failing, not the test, so a fresh server is
	// tried once more.
	for try := 1; ; try++ {
		stdout.Reset()
		stderr.Reset()
		cmd := exec.CommandContext(ctx, "bash", Script(), "start", s.Name)
		cmd.Stdout, cmd.Stderr, cmd.Env = &stdout, &stderr, env
		err := cmd.Run()
		if err == nil {
			break
		}
		// server.sh cleans up after a failed start; make sure anyway.
		_ = exec.Command("bash", Script(), "stop", s.Name).Run()
		if try < 2 && strings.Contains(stderr.String(), "Segmentation fault") {
			tb.Logf("softether: vpnserver crashed while starting (%s); starting a fresh one", s.Name)
			s.Name = randomName()
			continue
		}
		unlock()
		tb.Fatalf("softether: server.sh start %s: %v\n%s", s.Name, err, stderr.String())
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			if l, err := s.Log(); err == nil {
				tb.Logf("softether server %s log:\n%s", s.Name, l)
			}
		}
		if err := s.Stop(); err != nil {
			tb.Errorf("softether: %v", err)
		}
	})
	if err := s.parse(stdout.String()); err != nil {
		tb.Fatalf("softether: server.sh start %s: %v\nstdout:\n%s\nstderr:\n%s", s.Name, err, stdout.String(), stderr.String())
	}
	tb.Logf("softether server %s (PID %d) at %s ready in %v; client namespace %s\n%s",
		s.Name, s.PID, s.Addr, time.Since(start).Round(10*time.Millisecond), s.ClientNS,
		strings.TrimRight(stderr.String(), "\n"))
	return s
}

func (s *Server) parse(out string) error {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "STATE":
			s.StateDir = v
		case "PID":
			pid, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("bad PID %q", v)
			}
			s.PID = pid
		case "SERVER":
			s.Addr = v
		case "CLIENT_NS":
			s.ClientNS = v
		case "SERVER_NS":
			s.ServerNS = v
		case "VPN_HOST":
			s.VPNHost = v
		}
	}
	if s.StateDir == "" || s.PID == 0 || s.Addr == "" || s.ClientNS == "" || s.ServerNS == "" || s.VPNHost == "" {
		return errors.New("incomplete output")
	}
	return nil
}

// Stop stops the server and deletes its namespaces and state directory
// (the directory is kept when the environment has KEEP=1). It is idempotent;
// after it, Log returns the whole log, shutdown messages included.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		if !s.joined {
			defer serverMu.Unlock()
		}
		s.finalLog, _ = s.readLog()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		// KEEP=1 so that the server's last words can be read; the directory
		// is removed below.
		cmd := exec.CommandContext(ctx, "bash", Script(), "stop", s.Name)
		cmd.Env = append(os.Environ(), "KEEP=1")
		out, err := cmd.CombinedOutput()
		if l, err := s.readLog(); err == nil {
			s.finalLog = l
		}
		if err != nil {
			s.stopErr = fmt.Errorf("server.sh stop %s: %v\n%s", s.Name, err, out)
			return
		}
		if os.Getenv("KEEP") != "1" && s.StateDir != "" &&
			strings.HasPrefix(filepath.Base(s.StateDir), "corridor-softether-"+s.Name+".") {
			if err := os.RemoveAll(s.StateDir); err != nil {
				s.stopErr = err
			}
		}
	})
	return s.stopErr
}

// Log returns the server's log: its stdout/stderr (the Debian build in
// foreground mode writes every server, hub security and IPsec/L2TP/PPP
// message there) followed by any *.log files under the state directory's
// log directories (server_log, security_log, packet_log).
func (s *Server) Log() (string, error) {
	l, err := s.readLog()
	if err != nil && s.finalLog != "" {
		return s.finalLog, nil
	}
	return l, err
}

func (s *Server) readLog() (string, error) {
	if s.StateDir == "" {
		return "", errors.New("softether: no state directory")
	}
	main, err := os.ReadFile(filepath.Join(s.StateDir, "server.log"))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.Write(main)
	logDir := filepath.Join(s.StateDir, "var", "log", "softether")
	var files []string
	_ = filepath.WalkDir(logDir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".log") {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		rel, _ := filepath.Rel(s.StateDir, f)
		fmt.Fprintf(&b, "==> %s <==\n", rel)
		b.Write(data)
	}
	return b.String(), nil
}

// Command returns a command that runs name with args inside the client
// network namespace (ip netns exec ClientNS name args...).
func (s *Server) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", s.ClientNS, name}, args...)...)
}
