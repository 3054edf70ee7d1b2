//go:build unix

package desktop

import (
	"syscall"
	"testing"
	"time"
)

// SIGTERM arms the guard (Fyne's own handler calls Quit; if that hangs,
// the guard ends the process). The signal is sent to this test process:
// armOnSignal's Notify keeps it from killing the test.
func TestQuitGuardArmsOnSIGTERM(t *testing.T) {
	var out syncWriter
	r := newExitRecorder()
	g := newQuitGuard(20*time.Millisecond, &out, r.exit)
	stop := g.armOnSignal()
	defer stop()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM did not arm the guard")
	}
}
