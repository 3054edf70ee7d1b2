package desktop

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The paths of Main that return before a window opens.

func TestUsage(t *testing.T) {
	var b bytes.Buffer
	if code := run([]string{"--help"}, &b); code != 0 {
		t.Errorf("--help: exit %d", code)
	}
	if !strings.Contains(b.String(), "Usage: corridor [gui] [--hidden]") || !strings.Contains(b.String(), "CORRIDOR_SOCKET") {
		t.Errorf("--help printed:\n%s", b.String())
	}
	b.Reset()
	if code := run([]string{"extra"}, &b); code != 2 || !strings.Contains(b.String(), `unknown command "extra"`) {
		t.Errorf("extra argument: exit %d, %q", code, b.String())
	}
	b.Reset()
	if code := run([]string{"--bogus"}, &b); code != 2 {
		t.Errorf("--bogus: exit %d", code)
	}
}

func TestNoDisplay(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	var b bytes.Buffer
	code := run(nil, &b)
	if noDisplay() == "" {
		t.Skip("this system needs no display variable for windows")
	}
	if code != 2 || !strings.Contains(b.String(), "no display for the desktop app") || !strings.Contains(b.String(), "corridor help") {
		t.Errorf("without a display: exit %d, %q", code, b.String())
	}
}

// Started hidden with no tray: the window shows after the wait, unless a
// tray appears first.
func TestShowUnlessTray(t *testing.T) {
	ctx := context.Background()
	shown := 0
	showUnlessTray(ctx, func() bool { return false }, 20*time.Millisecond, func() { shown++ })
	if shown != 1 {
		t.Errorf("no tray: shown %d times, want 1", shown)
	}

	var up atomic.Bool
	time.AfterFunc(10*time.Millisecond, func() { up.Store(true) })
	showUnlessTray(ctx, up.Load, 5*time.Second, func() { t.Error("shown although a tray appeared") })

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	showUnlessTray(cctx, func() bool { return false }, 5*time.Second, func() { t.Error("shown after the app ended") })
}
