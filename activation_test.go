package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/corridorvpn/corridor/app/cli"
	"github.com/corridorvpn/corridor/core/daemon"
)

// TestHelperProcessDaemon is not a test: TestDaemonSocketActivation runs
// the test binary again with CORRIDOR_TEST_DAEMON set, and this runs
// `corridor daemon` in it the way corridor.service does. Go cannot set
// LISTEN_PID to a child's pid before it starts (systemd does so between
// fork and exec), so the child sets it to its own pid first.
func TestHelperProcessDaemon(t *testing.T) {
	args := os.Getenv("CORRIDOR_TEST_DAEMON")
	if args == "" {
		t.Skip("run by TestDaemonSocketActivation")
	}
	if os.Getenv("LISTEN_FDS") != "" && os.Getenv("LISTEN_PID") == "self" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	os.Exit(cli.Main(strings.Fields(args)))
}

// TestDaemonSocketActivation: started with a listening socket as fd 3
// (LISTEN_FDS=1, as corridor.socket starts it), `corridor daemon` serves
// on that socket instead of creating its own, tells systemd READY=1 once
// it serves and STOPPING=1 on SIGTERM, and leaves the socket file (it is
// systemd's) in place when it exits. Run again under
// systemd-socket-activate when it is installed.
func TestDaemonSocketActivation(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("socket activation is systemd's")
	}
	g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
	if err != nil {
		t.Skipf("no name for our group: %v", err)
	}
	t.Run("fd3", func(t *testing.T) {
		dir := t.TempDir()
		sock := filepath.Join(dir, "activated.sock")
		ln, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		f, err := ln.(*net.UnixListener).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cmd, notes := helper(t, dir, g.Name, "LISTEN_FDS=1", "LISTEN_PID=self")
		cmd.ExtraFiles = []*os.File{f} // fd 3
		checkActivated(t, cmd, notes, sock, dir)
	})
	t.Run("systemd-socket-activate", func(t *testing.T) {
		ssa, err := exec.LookPath("systemd-socket-activate")
		if err != nil {
			t.Skip("systemd-socket-activate is not installed")
		}
		dir := t.TempDir()
		sock := filepath.Join(dir, "activated.sock")
		cmd, notes := helper(t, dir, g.Name)
		// systemd-socket-activate binds the socket, then execs the helper
		// with LISTEN_FDS and LISTEN_PID set, as systemd does.
		self := cmd.Args[0]
		cmd.Path = ssa
		cmd.Args = append([]string{ssa, "-l", sock, "-E", "CORRIDOR_TEST_DAEMON", "-E", "NOTIFY_SOCKET", self}, cmd.Args[1:]...)
		checkActivated(t, cmd, notes, sock, dir)
	})
}

// helper returns the command that runs `corridor daemon` in the test
// binary, and the datagrams it sends to its NOTIFY_SOCKET.
func helper(t *testing.T, dir, group string, env ...string) (*exec.Cmd, <-chan string) {
	notify := filepath.Join(dir, "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	notes := make(chan string, 8)
	go func() {
		buf := make([]byte, 512)
		for {
			n, err := nc.Read(buf)
			if err != nil {
				close(notes)
				return
			}
			notes <- string(buf[:n])
		}
	}()
	// --socket names a path the helper must not create: it serves on the
	// one it was given.
	args := "daemon --socket " + filepath.Join(dir, "not-used.sock") + " --group " + group +
		" --journal " + filepath.Join(dir, "journal")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcessDaemon$")
	cmd.Env = append(os.Environ(), append([]string{"CORRIDOR_TEST_DAEMON=" + args, "NOTIFY_SOCKET=" + notify}, env...)...)
	return cmd, notes
}

func checkActivated(t *testing.T, cmd *exec.Cmd, notes <-chan string, sock, dir string) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logged := make(chan string, 1)
	go func() {
		var b strings.Builder
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
		}
		logged <- b.String()
	}()
	exited := false
	defer func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()
	wait := func(want string) {
		t.Helper()
		select {
		case n, ok := <-notes:
			if !ok || !strings.Contains(n, want) {
				t.Fatalf("sd_notify: got %q, want %s", n, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no %s from the helper within 30 s", want)
		}
	}
	// systemd-socket-activate starts the helper at the first connection,
	// as systemd does: ping first (once the socket exists), then wait.
	pinged := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			if _, err := os.Lstat(sock); err == nil {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		pinged <- (&daemon.Client{Socket: sock}).Ping(ctx)
	}()
	wait("READY=1")
	if err := <-pinged; err != nil {
		t.Fatalf("ping through the passed socket: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "not-used.sock")); err == nil {
		t.Errorf("the activated helper created its own socket too")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	wait("STOPPING=1")
	err = cmd.Wait()
	exited = true
	log := <-logged
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, log)
	}
	if !strings.Contains(log, "listening on the socket systemd passed") {
		t.Errorf("the helper did not say it took the passed socket:\n%s", log)
	}
	if _, err := os.Lstat(sock); err != nil {
		t.Errorf("the helper removed systemd's socket on exit: %v", err)
	}
}
