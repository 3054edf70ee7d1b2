package cli

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"sync"
	"testing"
	"time"
)

// statusLog records what runAsService reports, safely across goroutines.
type statusLog struct {
	mu     sync.Mutex
	states []winState
	ch     chan winState
}

func newStatusLog() *statusLog { return &statusLog{ch: make(chan winState, 16)} }

func (l *statusLog) report(s winState) {
	l.mu.Lock()
	l.states = append(l.states, s)
	l.mu.Unlock()
	l.ch <- s
}

func (l *statusLog) wait(t *testing.T, want winState) {
	t.Helper()
	for {
		select {
		case s := <-l.ch:
			if s == want {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("never reported %s", want)
		}
	}
}

// TestRunAsServiceStop: start-pending, running once the pipe is made;
// Interrogate repeats it; Stop reports stop-pending and cancels the
// helper, which ends its sessions before runAsService returns.
func TestRunAsServiceStop(t *testing.T) {
	for _, stop := range []svcCmd{svcStop, svcShutdown} {
		cmds := make(chan svcCmd)
		st := newStatusLog()
		ended := false
		done := make(chan error, 1)
		go func() {
			done <- runAsService(cmds, st.report, func(ctx context.Context, ready func()) error {
				ready()
				ready() // twice is harmless
				<-ctx.Done()
				time.Sleep(10 * time.Millisecond) // ending the sessions
				ended = true
				return nil
			})
		}()
		st.wait(t, winRunning)
		cmds <- svcInterrogate
		st.wait(t, winRunning)
		cmds <- stop
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !ended {
			t.Error("returned before the helper ended")
		}
		want := []winState{winStartPending, winRunning, winRunning, winStopPending}
		if !reflect.DeepEqual(st.states, want) {
			t.Errorf("stop %d: reported %v, want %v", stop, st.states, want)
		}
	}
}

// TestRunAsServiceFails: a helper that cannot make its pipe ends the
// service with its error, never having reported running.
func TestRunAsServiceFails(t *testing.T) {
	st := newStatusLog()
	boom := errors.New("pipe taken")
	err := runAsService(make(chan svcCmd), st.report, func(context.Context, func()) error { return boom })
	if !errors.Is(err, boom) {
		t.Errorf("got %v", err)
	}
	if !reflect.DeepEqual(st.states, []winState{winStartPending}) {
		t.Errorf("reported %v", st.states)
	}
}

func TestWantsUserRunner(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"--user"}, true},
		{[]string{"-v", "-user"}, true},
		{[]string{"--user=true"}, true},
		{[]string{"--user=false"}, false},
		{[]string{"--socket", "x"}, false},
		{[]string{"--socket", `C:\x\user.sock`, "--user"}, true},
		{[]string{"--", "--user"}, false},
	} {
		if got := wantsUserRunner(tc.args); got != tc.want {
			t.Errorf("wantsUserRunner(%q) = %v", tc.args, got)
		}
	}
}

func TestLogLineLevel(t *testing.T) {
	for line, want := range map[string]slog.Level{
		`time=2026-12-02T12:00:00Z level=INFO msg="daemon: listening"`:   slog.LevelInfo,
		`time=2026-12-02T12:00:00Z level=WARN msg="daemon: refused"`:     slog.LevelWarn,
		`time=2026-12-02T12:00:00Z level=ERROR msg="daemon: the helper"`: slog.LevelError,
		`time=2026-12-02T12:00:00Z level=DEBUG msg=x`:                    slog.LevelInfo,
	} {
		if got := logLineLevel(line); got != want {
			t.Errorf("logLineLevel(%q) = %v, want %v", line, got, want)
		}
	}
}
