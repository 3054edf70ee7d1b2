package desktop

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// One instance on macOS and Windows, where there is no session bus: the
// first app listens on a unix socket in a directory that is the user's
// own (macOS: $TMPDIR, which is per user; Windows: %LOCALAPPDATA%\Corridor,
// with Windows 10's AF_UNIX sockets); a later start connects to it and
// says "activate" (the first app brings its window forward) or "hello"
// (--hidden: only to learn that one runs), reads "ok", and exits. A
// socket nobody listens on any more (the app crashed) is removed and
// claimed. This file has no GOOS suffix so that its tests run on Linux,
// where the app uses D-Bus instead; it has never run on macOS or
// Windows.

// claimSocket is claimInstance over the socket at path.
func claimSocket(path string, activate func(), activateOther bool) (first bool, release func(), err error) {
	for try := 0; try < 2; try++ {
		ln, lerr := net.Listen("unix", path)
		if lerr == nil {
			go serveInstance(ln, activate)
			return true, func() {
				ln.Close()
				os.Remove(path)
			}, nil
		}
		c, derr := net.DialTimeout("unix", path, 2*time.Second)
		if derr == nil {
			defer c.Close()
			return false, nil, askInstance(c, activateOther)
		}
		if _, serr := os.Lstat(path); serr != nil {
			return false, nil, fmt.Errorf("one instance: %w", lerr)
		}
		// Someone's socket file, but nobody answers: a crashed app's.
		if rerr := os.Remove(path); rerr != nil {
			return false, nil, fmt.Errorf("one instance: %s is left by an app that is gone and cannot be removed: %w", path, rerr)
		}
	}
	return false, nil, fmt.Errorf("one instance: could not claim %s", path)
}

// serveInstance answers later starts until ln is closed.
func serveInstance(ln net.Listener, activate func()) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				return
			}
			switch strings.TrimSpace(line) {
			case "activate":
				if activate != nil {
					activate()
				}
			case "hello":
			default:
				return
			}
			c.Write([]byte("ok\n"))
		}()
	}
}

// askInstance tells the running app that another start happened.
func askInstance(c net.Conn, activate bool) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	msg := "hello\n"
	if activate {
		msg = "activate\n"
	}
	if _, err := c.Write([]byte(msg)); err != nil {
		return fmt.Errorf("another Corridor runs but did not answer: %w", err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ok" {
		return fmt.Errorf("another Corridor runs but did not answer: %w", errors.Join(err, errors.New(strings.TrimSpace(line))))
	}
	return nil
}
