package desktop

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestClaimSocket: the first claim listens; a second start activates it
// (or, hidden, only learns it runs) and is not first; a socket left by a
// crashed app is taken over; release removes the socket. This is the
// one-instance mechanism of macOS and Windows, run here on Linux only.
func TestClaimSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "instance.sock")
	var activated atomic.Int32
	first, release, err := claimSocket(path, func() { activated.Add(1) }, true)
	if err != nil || !first {
		t.Fatalf("first claim: %v, %v", first, err)
	}
	second, rel2, err := claimSocket(path, nil, true)
	if err != nil || second || rel2 != nil {
		t.Fatalf("second claim: first %v, %v", second, err)
	}
	if activated.Load() != 1 {
		t.Errorf("activated %d times, want 1", activated.Load())
	}
	hidden, _, err := claimSocket(path, nil, false)
	if err != nil || hidden {
		t.Fatalf("hidden claim: first %v, %v", hidden, err)
	}
	if activated.Load() != 1 {
		t.Errorf("a hidden start activated the window")
	}
	release()
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("socket left after release: %v", err)
	}

	// A crashed app's socket: the file stays, nobody listens.
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket is not there: %v", err)
	}
	first, release, err = claimSocket(path, nil, true)
	if err != nil || !first {
		t.Fatalf("claim over a stale socket: %v, %v", first, err)
	}
	release()
}

// TestClaimSocketNotAnApp: something else at the path that answers but
// not as the app is an error (the caller starts anyway), and a path that
// cannot be a socket is an error too.
func TestClaimSocketNotAnApp(t *testing.T) {
	path := filepath.Join(t.TempDir(), "instance.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("nope\n"))
			c.Close()
		}
	}()
	if first, _, err := claimSocket(path, nil, true); err == nil || first || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("claim against a stranger: first %v, %v", first, err)
	}
	if first, _, err := claimSocket(filepath.Join(t.TempDir(), "no", "such", "dir", "x.sock"), nil, true); err == nil || first {
		t.Errorf("claim in a missing directory: first %v, %v", first, err)
	}
}
