package desktop

import (
	"bytes"
	"strings"
	"testing"
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
