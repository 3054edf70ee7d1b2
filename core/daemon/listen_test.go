package daemon

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestListenStaleAndLiveSocket: a socket left by a crashed helper is
// replaced; the socket of a running helper is never deleted by a
// second one, which refuses in plain words; a path that is not a socket
// is left alone.
func TestListenStaleAndLiveSocket(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peer credentials are only implemented on Linux")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "corridor.sock")

	// A stale socket: bound, then closed without unlinking (a crash).
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("the stale socket should exist: %v", err)
	}

	first := &Server{Engine: &fakeEngine{}, Allow: func(uint32, uint32) bool { return true }}
	if err := first.Listen(path, ""); err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.Serve(ctx) }()

	second := &Server{Engine: &fakeEngine{}}
	err = second.Listen(path, "")
	if !errors.Is(err, ErrRunning) {
		t.Fatalf("second Listen: %v, want ErrRunning", err)
	}
	if want := "another Corridor helper is already running on " + path; !strings.Contains(err.Error(), want) {
		t.Errorf("second Listen said %q, want it to contain %q", err, want)
	}
	// The first helper still answers on its socket.
	pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer pcancel()
	if err := (&Client{Socket: path}).Ping(pctx); err != nil {
		t.Fatalf("the first helper stopped answering after a second one started: %v", err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	first.RemoveSocket()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("RemoveSocket left %s: %v", path, err)
	}

	// Not a socket: refused, and left alone.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := (&Server{Engine: &fakeEngine{}}).Listen(file, ""); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen on a regular file: %v", err)
	}
	if b, _ := os.ReadFile(file); string(b) != "keep" {
		t.Errorf("Listen touched a regular file at the socket path")
	}
}

// TestRemoveSocketKeepsANewerOne: a helper that shuts down after
// another one took over the path leaves the newer socket in place.
func TestRemoveSocketKeepsANewerOne(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peer credentials are only implemented on Linux")
	}
	path := filepath.Join(t.TempDir(), "corridor.sock")
	old := &Server{Engine: &fakeEngine{}}
	if err := old.Listen(path, ""); err != nil {
		t.Fatal(err)
	}
	old.ln.Close() // stopped serving: its socket is stale now
	newer := &Server{Engine: &fakeEngine{}}
	if err := newer.Listen(path, ""); err != nil {
		t.Fatal(err)
	}
	defer newer.ln.Close()
	old.RemoveSocket()
	if _, err := os.Lstat(path); err != nil {
		t.Errorf("the old helper removed the newer helper's socket: %v", err)
	}
}

// TestClientPermissionDenied: a user outside the socket's group is told
// so, not that the helper is not running.
func TestClientPermissionDenied(t *testing.T) {
	if runtime.GOOS != "linux" || os.Getuid() == 0 {
		t.Skip("needs Linux and a user without CAP_DAC_OVERRIDE (root connects anyway)")
	}
	path := filepath.Join(t.TempDir(), "corridor.sock")
	s := &Server{Engine: &fakeEngine{}}
	if err := s.Listen(path, ""); err != nil {
		t.Fatal(err)
	}
	defer s.ln.Close()
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	err := (&Client{Socket: path}).Ping(context.Background())
	if err == nil || errors.Is(err, ErrNoDaemon) || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("Ping on a socket we may not open: %v", err)
	}
}
