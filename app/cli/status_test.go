package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/corridorvpn/corridor/core"
)

// statusEngine answers Status with sts.
type statusEngine struct{ sts []core.Status }

func (e *statusEngine) Up(context.Context, core.UpRequest) error { return nil }
func (e *statusEngine) Down(context.Context, string) error       { return nil }
func (e *statusEngine) Status(context.Context) ([]core.Status, error) {
	return e.sts, nil
}
func (e *statusEngine) Subscribe(ctx context.Context) (<-chan core.Event, error) {
	ch := make(chan core.Event)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func serveStatus(t *testing.T, sts []core.Status) string {
	t.Helper()
	return serveUp(t, &statusEngine{sts})
}

// status --json is the stable versioned shape: {"version":1,"sessions":[...]},
// and an error in it has a code beside the words.
func TestStatusJSONShape(t *testing.T) {
	failed := core.Status{Profile: "office", State: core.StateFailed,
		Error: &core.ErrorInfo{Class: core.ClassAuth, Msg: "the server rejected the user name or password"}}
	path := serveStatus(t, []core.Status{failed})
	code, out, errs := run(t, "", "status", "--json", "--socket", path)
	if code != ExitOK || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if raw["version"] != float64(1) {
		t.Errorf("version %v, want 1:\n%s", raw["version"], out)
	}
	sessions, _ := raw["sessions"].([]any)
	if len(sessions) != 1 {
		t.Fatalf("sessions %v:\n%s", raw["sessions"], out)
	}
	e, _ := sessions[0].(map[string]any)["error"].(map[string]any)
	if e["code"] != "auth-failed" || e["class"] != "authentication" || e["msg"] == "" {
		t.Errorf("error %v: want code auth-failed beside class and msg", e)
	}
	var rep core.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Version != core.StatusReportVersion || rep.Sessions[0].Profile != "office" {
		t.Errorf("as core.StatusReport: %+v, %v", rep, err)
	}

	// No sessions: an empty list, never null.
	code, out, _ = run(t, "", "status", "--json", "--socket", serveStatus(t, nil))
	if code != ExitOK || !strings.Contains(out, `"sessions": []`) {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// The helper not running: status --json still prints the versioned
// object, with the error and its code; the words and the exit code are
// as without --json.
func TestStatusJSONError(t *testing.T) {
	code, out, errs := run(t, "", "status", "--json", "--socket", filepath.Join(t.TempDir(), "none.sock"))
	var rep core.StatusReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if code == ExitOK || errs == "" || rep.Version != 1 || rep.Sessions == nil || rep.Error == nil || rep.Error.Msg == "" {
		t.Fatalf("exit %d, stderr %q, report %+v", code, errs, rep)
	}
	if !slices.Contains(core.Codes, rep.Error.Code) || classExit[rep.Error.Class] != code {
		t.Errorf("code %q (class %v), exit %d", rep.Error.Code, rep.Error.Class, code)
	}
}
