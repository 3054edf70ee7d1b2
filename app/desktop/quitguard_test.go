package desktop

import (
	"strings"
	"sync"
	"testing"
	"time"
)

type exitRecorder struct {
	mu    sync.Mutex
	codes []int
	ch    chan int
}

func newExitRecorder() *exitRecorder { return &exitRecorder{ch: make(chan int, 4)} }

func (r *exitRecorder) exit(code int) {
	r.mu.Lock()
	r.codes = append(r.codes, code)
	r.mu.Unlock()
	r.ch <- code
}

func (r *exitRecorder) calls() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.codes...)
}

// A quit whose Run never returns ends the process (exit 0) after the
// wait, once, however often it was armed, and says why.
func TestQuitGuardEndsHungQuit(t *testing.T) {
	var out syncWriter
	r := newExitRecorder()
	g := newQuitGuard(50*time.Millisecond, &out, r.exit)
	start := time.Now()
	g.arm()
	g.arm()
	select {
	case code := <-r.ch:
		if code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
		if took := time.Since(start); took < 50*time.Millisecond {
			t.Errorf("exit after %v, before the 50ms wait", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the guard did not end a quit that never returned")
	}
	time.Sleep(150 * time.Millisecond) // a second countdown would fire by now
	if c := r.calls(); len(c) != 1 {
		t.Errorf("exit called %d times (%v), want once", len(c), c)
	}
	if s := out.String(); !strings.Contains(s, "had not finished quitting 50ms after Quit") {
		t.Errorf("stderr %q does not say why the app ended", s)
	}
	g.returned()
	g.returned() // twice is fine
}

// When Run returns in time, or before any quit, the guard does nothing.
func TestQuitGuardStandsDown(t *testing.T) {
	for _, armFirst := range []bool{true, false} {
		var out syncWriter
		r := newExitRecorder()
		g := newQuitGuard(100*time.Millisecond, &out, r.exit)
		if armFirst {
			g.arm()
			g.returned()
		} else {
			g.returned()
			g.arm()
		}
		time.Sleep(300 * time.Millisecond)
		if c := r.calls(); len(c) != 0 || out.String() != "" {
			t.Errorf("armFirst %v: exit calls %v, stderr %q; want none", armFirst, c, out.String())
		}
	}
}

type syncWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
