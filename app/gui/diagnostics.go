package gui

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// Redacted replaces every secret in diagnostics and copied logs.
const Redacted = "[REDACTED]"

// redactor removes secret values from text: every value the keychain
// holds for a profile, every value the UI handled, and anything written
// like password=..., psk: ..., secret "...".
type redactor struct {
	long  []string         // replaced wherever they occur
	short []*regexp.Regexp // very short values: only as whole words
}

// secretAssign matches "password=...", "psk: ...", "secret = \"...\"",
// `"password": "..."` and the like; the value is replaced.
var secretAssign = regexp.MustCompile(`(?i)\b(password|passwd|passphrase|pwd|psk|pre[-_ ]?shared[-_ ]?key|shared[-_ ]?secret|l2tp[-_ ]?secret|secret|token)(["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"'}]+)`)

// plainValues after such a key are not secrets (l2tp_secret = true).
var plainValues = map[string]bool{"true": true, "false": true, "none": true, `""`: true, Redacted: true}

func newRedactor(secrets []string) *redactor {
	r := &redactor{}
	seen := map[string]bool{}
	for _, s := range secrets {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		if len(s) >= 4 {
			r.long = append(r.long, s)
		} else {
			r.short = append(r.short, regexp.MustCompile(`(^|[^\pL\pN])`+regexp.QuoteMeta(s)+`($|[^\pL\pN])`))
		}
	}
	// Longest first, so a secret containing another goes whole.
	sort.Slice(r.long, func(i, j int) bool { return len(r.long[i]) > len(r.long[j]) })
	return r
}

func (r *redactor) apply(s string) string {
	for _, v := range r.long {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	for _, re := range r.short {
		s = re.ReplaceAllString(s, "${1}"+Redacted+"${2}")
	}
	return secretAssign.ReplaceAllStringFunc(s, func(m string) string {
		sub := secretAssign.FindStringSubmatch(m)
		if plainValues[strings.ToLower(sub[3])] {
			return m
		}
		return sub[1] + sub[2] + Redacted
	})
}

// redactor collects the secrets known now: from the keychain for every
// profile, and the values the UI handled. It may block on the keychain;
// call it off Fyne's goroutine.
func (u *UI) redactor() *redactor {
	var secrets []string
	ps, _ := u.b.Profiles()
	for _, p := range ps {
		for _, k := range profile.SecretKinds {
			if v, err := u.b.Secret(p.Name, k); err == nil && v != "" {
				secrets = append(secrets, v)
			}
		}
	}
	u.mu.Lock()
	for v := range u.known {
		secrets = append(secrets, v)
	}
	u.mu.Unlock()
	return newRedactor(secrets)
}

// diagFile is one part of the bundle.
type diagFile struct {
	name string
	text string
}

// diagnostics gathers the bundle's parts, redacted.
func (u *UI) diagnostics(ctx context.Context) []diagFile {
	red := u.redactor()
	now := u.now()

	var sum strings.Builder
	fmt.Fprintf(&sum, "Corridor diagnostics\nWritten: %s\n\n", now.Format(time.RFC3339))
	md := u.app.Metadata()
	fmt.Fprintf(&sum, "App: %s %s (build %d, id %q)\n", nonEmpty(md.Name, "Corridor"), nonEmpty(md.Version, "unknown version"), md.Build, md.ID)
	if bi, ok := debug.ReadBuildInfo(); ok {
		fmt.Fprintf(&sum, "Module: %s %s\nGo: %s\n", bi.Main.Path, bi.Main.Version, bi.GoVersion)
		for _, s := range bi.Settings {
			if strings.HasPrefix(s.Key, "vcs.") {
				fmt.Fprintf(&sum, "%s: %s\n", s.Key, s.Value)
			}
		}
	} else {
		fmt.Fprintf(&sum, "Go: %s\n", runtime.Version())
	}
	fmt.Fprintf(&sum, "OS: %s/%s %s\n", runtime.GOOS, runtime.GOARCH, osDescription())

	// Sessions: fresh from the helper when it answers, else the last known.
	var sts []core.Status
	sctx, cancel := context.WithTimeout(ctx, u.callTimeout)
	live, err := u.b.Status(sctx)
	cancel()
	if err == nil {
		sts = live
		fmt.Fprintf(&sum, "Helper: answers\n")
	} else {
		msg, hint := helperWords(err)
		fmt.Fprintf(&sum, "Helper: %s (%s)\n", msg, hint)
		u.mu.Lock()
		for _, st := range u.statuses {
			sts = append(sts, st)
		}
		u.mu.Unlock()
		sort.Slice(sts, func(i, j int) bool { return sts[i].Profile < sts[j].Profile })
	}
	var stText strings.Builder
	for _, st := range sts {
		fmt.Fprintf(&stText, "%s: %s", st.Profile, st.State)
		if st.Error != nil {
			fmt.Fprintf(&stText, " (%s: %s; %s)", st.Error.Class, st.Error.Msg, st.Error.Hint)
		}
		stText.WriteByte('\n')
	}
	if len(sts) == 0 {
		stText.WriteString("no sessions\n")
	}
	js, _ := json.MarshalIndent(sts, "", "  ")

	// Profiles, as exported (without secrets).
	var prof strings.Builder
	ps, errs := u.b.Profiles()
	for _, p := range ps {
		fmt.Fprintf(&prof, "# --- profile %q ---\n", p.Name)
		if data, err := u.b.Export(p.Name); err == nil {
			prof.Write(data)
		} else {
			data, _ := json.MarshalIndent(p, "", "  ")
			prof.Write(data)
		}
		prof.WriteString("\n")
	}
	for _, err := range errs {
		fmt.Fprintf(&prof, "# unreadable profile: %v\n", err)
	}
	if len(ps) == 0 && len(errs) == 0 {
		prof.WriteString("# no profiles\n")
	}

	var logText strings.Builder
	for _, l := range u.logCopy() {
		logText.WriteString(l.String())
		logText.WriteByte('\n')
	}

	files := []diagFile{
		{"summary.txt", sum.String() + "\nSessions:\n" + stText.String()},
		{"status.json", string(js) + "\n"},
		{"profiles.toml", prof.String()},
		{"log.txt", logText.String()},
	}
	for i := range files {
		files[i].text = red.apply(files[i].text)
	}
	return files
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// osDescription names the OS release where it is easy to find.
func osDescription() string {
	var parts []string
	if data, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				parts = append(parts, strings.Trim(v, `"`))
			}
		}
	}
	if data, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		parts = append(parts, "kernel "+strings.TrimSpace(string(data)))
	}
	return strings.Join(parts, ", ")
}

// SaveDiagnostics writes the redacted diagnostics bundle to path: a zip
// archive (summary.txt, status.json, profiles.toml, log.txt) when path
// ends in ".zip", else one text file with the same sections. The bundle
// holds the app and OS versions, the sessions' statuses, the log and the
// profiles without their secrets; every secret value the keychain holds
// for a profile, every value typed into the UI, and anything written like
// "password=..." is replaced by [REDACTED]. The file is created with
// mode 0600. It may block on the keychain and the helper (bounded by
// timeouts); it is safe to call from any goroutine.
func (u *UI) SaveDiagnostics(path string) error {
	files := u.diagnostics(u.ctx)
	var buf bytes.Buffer
	if strings.EqualFold(filepath.Ext(path), ".zip") {
		zw := zip.NewWriter(&buf)
		for _, f := range files {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: "corridor-diagnostics/" + f.name, Method: zip.Deflate, Modified: u.now()})
			if err != nil {
				return err
			}
			if _, err := w.Write([]byte(f.text)); err != nil {
				return err
			}
		}
		if err := zw.Close(); err != nil {
			return err
		}
	} else {
		for _, f := range files {
			fmt.Fprintf(&buf, "===== %s =====\n%s\n", f.name, f.text)
		}
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing the diagnostics: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing the diagnostics: %w", err)
	}
	return nil
}
