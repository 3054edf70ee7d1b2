package desktop

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// quitWait is how long Fyne's Run may take to return after a quit
// request before quitGuard ends the process. A normal quit returns in
// milliseconds.
const quitWait = 5 * time.Second

// quitGuard ends the process when Fyne's App.Run has not returned within
// a while of the first quit request.
//
// Fyne 2.8.1 can hang in Run after Quit. When its loop ends it queues
// the lifecycle's stop hook (Fyne's own preference save, and OnStopped)
// on the lifecycle goroutine, drains its main-thread queue once, then
// marks it drained (internal/driver/glfw/loop.go, runGL). The lifecycle
// goroutine hands the hook to the main thread and waits for it; when
// that hand-over falls between the drain and the mark, nobody runs it,
// and Run, in Lifecycle.WaitForEvents, waits behind it forever. The
// hang was seen once in CI (TestWindowAndTray: "still runs 15 s after
// Quit"), and every time with that window widened by a sleep in a copy
// of Fyne. SIGTERM cannot end it: Fyne's handler only calls Quit again.
type quitGuard struct {
	wait   time.Duration
	stderr io.Writer
	exit   func(code int)
	off    bool // CORRIDOR_NO_QUIT_GUARD set: build/fyne-quit-race.sh GUARD=off

	armOnce, doneOnce sync.Once
	done              chan struct{} // closed once Run has returned
}

func newQuitGuard(wait time.Duration, stderr io.Writer, exit func(int)) *quitGuard {
	return &quitGuard{wait: wait, stderr: stderr, exit: exit, done: make(chan struct{}),
		off: os.Getenv("CORRIDOR_NO_QUIT_GUARD") != ""}
}

// arm starts the countdown; calls after the first do nothing.
func (g *quitGuard) arm() {
	if g.off {
		return
	}
	g.armOnce.Do(func() {
		go func() {
			t := time.NewTimer(g.wait)
			defer t.Stop()
			select {
			case <-g.done:
			case <-t.C:
				fmt.Fprintf(g.stderr, "corridor: the window toolkit had not finished quitting %v after Quit; ending the app now\n", g.wait)
				g.exit(0)
			}
		}()
	})
}

// returned says that Run has returned: an armed guard stands down.
func (g *quitGuard) returned() { g.doneOnce.Do(func() { close(g.done) }) }

// armOnSignal arms g when SIGINT or SIGTERM arrives (Fyne's own handler
// gets them too and calls Quit). The returned func stops listening.
func (g *quitGuard) armOnSignal() (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	quit := make(chan struct{})
	go func() {
		select {
		case <-ch:
			g.arm()
		case <-quit:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(quit)
	}
}
