// Package gui is Corridor's desktop window and tray model, built with Fyne.
// It is a client of core.Service (through the Backend interface) like the
// CLI: it lists profiles with their state, edits them (secrets go to the
// keychain only), connects and disconnects, shows the stages of a connect,
// the connected session with a live traffic graph, failures in the core's
// plain words, the session log, and writes a redacted diagnostics bundle.
//
// The package does not import fyne.io/fyne/v2/app: the desktop shell
// (app/desktop) creates the fyne.App, the window and the system tray, and
// hands them to New. Widget tests use fyne.io/fyne/v2/test and run
// without a display.
//
// Threading: widgets belong to Fyne's goroutine. Everything that arrives
// from the background (events of the helper, results of Connect, keychain
// reads) reaches them through fyne.Do. The model (profiles, statuses,
// log) is also guarded by a mutex so that SaveDiagnostics and the Tray*
// accessors can be called from any goroutine.
package gui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// Backend is what the UI needs; *core.Service satisfies it.
type Backend interface {
	Profiles() ([]profile.Profile, []error)
	Profile(name string) (profile.Profile, error)
	SaveProfile(p profile.Profile, secrets map[profile.SecretKind]string) error
	RenameProfile(old, new string) error
	RemoveProfile(name string) error
	Secret(profile string, kind profile.SecretKind) (string, error)
	// Import saves a file's profiles; a certificate protected by a
	// password the file does not hold makes it save nothing and return a
	// *core.ImportPasswordError (ask, then import again with opt).
	Import(filename string, data []byte, opt core.ImportOptions) ([]core.ImportedProfile, error)
	Export(name string) ([]byte, error)
	Connect(ctx context.Context, name string) error
	// ConnectWith is Connect with the secrets the user typed for this
	// connect (those the profile asks for at each connect).
	ConnectWith(ctx context.Context, name string, typed map[profile.SecretKind]string) error
	Disconnect(ctx context.Context, name string) error
	Status(ctx context.Context) ([]core.Status, error)
	Subscribe(ctx context.Context) (<-chan core.Event, error)
	Ping(ctx context.Context) error
}

var _ Backend = (*core.Service)(nil) // compile-time check

// Preference keys of the window size (floats, in Fyne units).
const (
	PrefWindowWidth  = "window.width"
	PrefWindowHeight = "window.height"
)

// Default and minimum window sizes.
var (
	DefaultWindowSize = fyne.NewSize(960, 640)
	MinWindowSize     = fyne.NewSize(720, 480)
)

// Environment variables of the local demo (set by the demo script).
const (
	EnvDemoServer       = "CORRIDOR_DEMO_SERVER"
	EnvDemoUser         = "CORRIDOR_DEMO_USER"
	EnvDemoPasswordFile = "CORRIDOR_DEMO_PASSWORD_FILE"
	EnvDemoPSKFile      = "CORRIDOR_DEMO_PSK_FILE"
)

// DemoProfileName is the name of the profile the welcome screen offers
// when CORRIDOR_DEMO_SERVER is set.
const DemoProfileName = "Local demo"

const (
	maxLogLines   = 5000
	graphSamples  = 300 // rate samples kept per session: 5 minutes at one a second
	pendingDetail = "asking the helper to connect"
)

// UI is the main window's content, the tray model and the glue to the
// Backend. Create it with New, then call Start.
type UI struct {
	app fyne.App
	win fyne.Window
	b   Backend

	// Settings; tests change them before Start.
	pingEvery   time.Duration // between Ping attempts while the helper is away
	tickEvery   time.Duration // elapsed-time refresh; 0: none
	callTimeout time.Duration // Ping, Status, Disconnect
	getenv      func(string) string
	now         func() time.Time
	notify      func(*fyne.Notification)
	// doFn hands a function to Fyne's goroutine: fyne.Do. Tests replace
	// it with a queue that the test goroutine runs, because Fyne's test
	// driver runs fyne.Do's function at once on the caller's goroutine,
	// beside the test's own widget calls (a data race that once hung
	// the package's tests).
	doFn func(func())

	ctx   context.Context // of Start; the parent of background calls
	retry chan struct{}   // "Check again" on the helper banner

	// The desktop shell's: whether a system tray shows the app's icon
	// now (nil: always), and the way to start the app at login (nil:
	// none on this system).
	trayAvailable func() bool
	autostart     Autostart

	mu        sync.Mutex // guards the model below
	profiles  []profile.Profile
	profErrs  []error
	statuses  map[string]core.Status
	started   map[string]time.Time // when the current connect began
	userDown  map[string]bool      // the user asked for the disconnect
	cancelled map[string]bool      // Cancel before Connect returned
	history   map[string]*rateHistory
	logs      []logLine
	helperErr error           // why the helper does not answer; nil when it does
	helperUp  bool            // the helper answered at least once and did not go away since
	known     map[string]bool // secret values the UI saved this run, redacted from diagnostics

	// Fyne goroutine only.
	selected string
	editing  *editor
	asking   *askForm // the open "type the password" dialog, if any
	// importAsk is the open dialog asking for an imported file's
	// certificate password, if any.
	importAsk *importPasswordForm
	// importNote is what the last import's "Imported" dialog said.
	importNote string
	onTray     func()
	onQuit     func()
	traySig    string
	closeNote  bool // told the user once that the app stays in the tray
	syncing    bool // the program is moving the list's selection
	startDone  bool // the connect at start (Settings) was made or is not wanted
	quitting   bool // disconnecting before quitting

	// Counters the tests wait on (the happens-before edge for reading
	// widgets after an event went through fyne.Do).
	events atomic.Int64 // events applied
	pings  atomic.Int64 // Ping results applied
	syncs  atomic.Int64 // Status snapshots applied
	bg     sync.WaitGroup
	// The Connect calls on their way (also in bg): quitting waits for
	// them, so that a connect cancelled by the quit is ended.
	connects sync.WaitGroup

	// Widgets.
	tabs        *container.AppTabs
	connTab     *container.TabItem
	logTab      *container.TabItem
	settingsTab *container.TabItem
	settings    *settingsView
	banner      *helperBanner
	list        *widget.List
	root        *fyne.Container // banner above the tabs
	right       *fyne.Container // detail, editor, or welcome
	detail      *detailView
	welcome     *welcomeView
	logv        *logView
	listRows    []profile.Profile // what the list shows (copy of profiles)
	profNote    *widget.Label     // under the list: profiles that could not be read
	left        *fyne.Container   // the list with its buttons
}

// New builds the window's content and the tray model. w is the main
// window: New sets its content, size (remembered in the app's
// preferences) and close intercept (closing hides it and the app stays
// in the tray; with no tray to stay in, see SetTrayAvailable, closing
// quits).
func New(a fyne.App, w fyne.Window, b Backend) *UI {
	u := &UI{
		app: a, win: w, b: b,
		pingEvery:   2 * time.Second,
		tickEvery:   time.Second,
		callTimeout: 10 * time.Second,
		getenv:      os.Getenv,
		now:         time.Now,
		ctx:         context.Background(),
		retry:       make(chan struct{}, 1),
		statuses:    map[string]core.Status{},
		started:     map[string]time.Time{},
		userDown:    map[string]bool{},
		cancelled:   map[string]bool{},
		history:     map[string]*rateHistory{},
		known:       map[string]bool{},
		doFn:        fyne.Do,
	}
	u.notify = func(n *fyne.Notification) { a.SendNotification(n) }
	u.loadProfiles()
	w.SetContent(u.build())
	w.Resize(u.savedSize())
	w.SetCloseIntercept(u.closeWindow)
	w.SetOnDropped(u.dropped)
	u.addShortcuts()
	a.Settings().AddListener(func(fyne.Settings) { u.do(u.themeChanged) })
	u.refreshAll()
	return u
}

// Start subscribes to the helper's events and keeps the view current. It
// polls Ping until the helper answers (showing a banner with the way to
// start it meanwhile), and again whenever the event stream ends. Once the
// sessions are known it connects the profile chosen in Settings to
// connect at start, if any (connectAtStart). All widget updates go
// through fyne.Do. It returns at once; the work stops when ctx ends.
func (u *UI) Start(ctx context.Context) {
	u.ctx = ctx
	go u.watch(ctx)
	if u.tickEvery > 0 {
		go u.ticker(ctx)
	}
}

// do runs f on Fyne's goroutine.
func (u *UI) do(f func()) { u.doFn(f) }

// goBG runs a backend call of a user's action in the background; its
// result comes back through do. Tests wait for these with u.bg.Wait.
func (u *UI) goBG(f func()) {
	u.bg.Add(1)
	go func() {
		defer u.bg.Done()
		f()
	}()
}

func (u *UI) watch(ctx context.Context) {
	for {
		// While the helper is away, this user's own sessions (proxy-mode
		// profiles, which need no helper) are followed on their own.
		stopUser := func() {}
		up := u.waitHelper(ctx, func() {
			if ue := u.userEngine(); ue != nil {
				uctx, cancel := context.WithCancel(ctx)
				stopUser = cancel
				go u.watchUser(uctx, ue)
			} else {
				// Nothing else to ask: a proxy-mode profile may connect now.
				u.do(func() { u.connectAtStart(false) })
			}
		})
		stopUser()
		if !up {
			return
		}
		ch, err := u.b.Subscribe(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			u.do(func() { u.setHelper(err) })
			if !u.sleep(ctx) {
				return
			}
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, u.callTimeout)
		sts, err := u.b.Status(sctx)
		cancel()
		u.do(func() {
			if err == nil {
				u.applyStatuses(sts)
				u.connectAtStart(true)
			}
			u.syncs.Add(1)
		})
		for ev := range ch {
			u.do(func() {
				u.applyEvent(ev)
				u.events.Add(1)
			})
		}
		if ctx.Err() != nil {
			return
		}
		u.do(func() {
			u.logf("WARN", "", "lost contact with the Corridor helper; waiting for it to come back")
			u.setHelper(errors.New("the Corridor helper stopped answering"))
		})
	}
}

// waitHelper pings until the helper answers; false when ctx ended.
// onDown runs once, when a ping first fails.
func (u *UI) waitHelper(ctx context.Context, onDown func()) bool {
	down := false
	for {
		pctx, cancel := context.WithTimeout(ctx, u.callTimeout)
		err := u.b.Ping(pctx)
		cancel()
		if ctx.Err() != nil {
			return false
		}
		u.do(func() {
			u.setHelper(err)
			u.pings.Add(1)
		})
		if err == nil {
			return true
		}
		if !down {
			down = true
			onDown()
		}
		if !u.sleep(ctx) {
			return false
		}
	}
}

// userEngine is the engine of this user's own sessions, when the backend
// runs them apart from the helper's (core.Service with a core.Split).
func (u *UI) userEngine() core.UserEngine {
	if b, ok := u.b.(interface{ UserEngine() core.UserEngine }); ok {
		return b.UserEngine()
	}
	return nil
}

// watchUser follows this user's own sessions until ctx ends: a status
// snapshot, then their events (core.UserEngine's Subscribe follows its
// runner across starts and ends). After the snapshot a proxy-mode
// profile chosen to connect at start may connect.
func (u *UI) watchUser(ctx context.Context, e core.UserEngine) {
	ch, err := e.Subscribe(ctx)
	if err != nil {
		u.do(func() { u.connectAtStart(false) })
		return
	}
	sctx, cancel := context.WithTimeout(ctx, u.callTimeout)
	sts, err := e.Status(sctx)
	cancel()
	u.do(func() {
		if err == nil {
			for _, st := range sts {
				u.setStatus(st, false)
			}
		}
		u.connectAtStart(false)
	})
	for ev := range ch {
		if ctx.Err() != nil {
			return
		}
		u.do(func() {
			u.applyEvent(ev)
			u.events.Add(1)
		})
	}
}

func (u *UI) sleep(ctx context.Context) bool {
	t := time.NewTimer(u.pingEvery)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-u.retry:
	}
	return true
}

func (u *UI) ticker(ctx context.Context) {
	t := time.NewTicker(u.tickEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			u.do(u.tick)
		}
	}
}

// tick refreshes what changes with time alone (elapsed, duration).
func (u *UI) tick() {
	if u.detail != nil && u.selected != "" {
		u.detail.tick()
	}
}

// ---- model ----

// logLine is one line of the session log.
type logLine struct {
	Time    time.Time
	Level   string // DEBUG, INFO, WARN, ERROR
	Profile string
	Text    string
}

func (l logLine) String() string {
	p := l.Profile
	if p != "" {
		p += ": "
	}
	return fmt.Sprintf("%s %-5s %s%s", l.Time.Format("2006-01-02 15:04:05.000"), l.Level, p, l.Text)
}

// rateHistory is a session's last rate samples (bytes per second).
type rateHistory struct {
	rx, tx []float64
}

func (h *rateHistory) add(rx, tx float64) {
	h.rx = append(h.rx, rx)
	h.tx = append(h.tx, tx)
	if n := len(h.rx) - graphSamples; n > 0 {
		h.rx = append(h.rx[:0], h.rx[n:]...)
		h.tx = append(h.tx[:0], h.tx[n:]...)
	}
}

func normLevel(l string) string {
	switch strings.ToUpper(l) {
	case "DEBUG":
		return "DEBUG"
	case "WARN", "WARNING":
		return "WARN"
	case "ERROR":
		return "ERROR"
	}
	if strings.HasPrefix(strings.ToUpper(l), "DEBUG") {
		return "DEBUG"
	}
	if strings.HasPrefix(strings.ToUpper(l), "ERROR") {
		return "ERROR"
	}
	return "INFO"
}

// logf adds a line to the session log (Fyne goroutine).
func (u *UI) logf(level, profile, format string, args ...any) {
	u.addLog(logLine{Time: u.now(), Level: level, Profile: profile, Text: fmt.Sprintf(format, args...)})
}

func (u *UI) addLog(l logLine) {
	l.Level = normLevel(l.Level)
	u.mu.Lock()
	u.logs = append(u.logs, l)
	dropped := 0
	if n := len(u.logs) - maxLogLines; n > 0 {
		n += maxLogLines / 10 // drop a tenth at once: the view is rebuilt once per so many lines
		u.logs = append(u.logs[:0], u.logs[n:]...)
		dropped = n
	}
	u.mu.Unlock()
	if u.logv != nil {
		u.logv.add(l, dropped)
	}
}

// logCopy returns the log lines.
func (u *UI) logCopy() []logLine {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]logLine(nil), u.logs...)
}

func (u *UI) loadProfiles() {
	ps, errs := u.b.Profiles()
	sort.Slice(ps, func(i, j int) bool { return strings.ToLower(ps[i].Name) < strings.ToLower(ps[j].Name) })
	u.mu.Lock()
	u.profiles, u.profErrs = ps, errs
	u.mu.Unlock()
	for _, err := range errs {
		u.logf("WARN", "", "a profile could not be read: %v", err)
	}
}

// reloadProfiles re-reads the profiles and refreshes the view.
func (u *UI) reloadProfiles() {
	u.loadProfiles()
	u.refreshAll()
}

func (u *UI) profileList() []profile.Profile {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]profile.Profile(nil), u.profiles...)
}

func (u *UI) profileByName(name string) (profile.Profile, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, p := range u.profiles {
		if p.Name == name {
			return p, true
		}
	}
	return profile.Profile{}, false
}

func (u *UI) hasProfile(name string) bool {
	_, ok := u.profileByName(name)
	return ok
}

// status returns the state of a profile's session (Idle without one).
func (u *UI) status(name string) core.Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.statusLocked(name)
}

func (u *UI) statusLocked(name string) core.Status {
	if st, ok := u.statuses[name]; ok {
		return st
	}
	return core.Status{Profile: name, State: core.StateIdle}
}

func (u *UI) rates(name string) (rx, tx []float64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if h := u.history[name]; h != nil {
		return append([]float64(nil), h.rx...), append([]float64(nil), h.tx...)
	}
	return nil, nil
}

func (u *UI) connectStart(name string) time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.started[name]
}

// applyStatuses takes the engine's list of sessions (after (re)subscribing).
func (u *UI) applyStatuses(sts []core.Status) {
	seen := map[string]bool{}
	for _, st := range sts {
		seen[st.Profile] = true
		u.setStatus(st, false)
	}
	u.mu.Lock()
	var gone []string
	for name, st := range u.statuses {
		if !seen[name] && st.Detail != pendingDetail && st.State != core.StateFailed {
			gone = append(gone, name)
		}
	}
	u.mu.Unlock()
	for _, name := range gone {
		u.setStatus(core.Status{Profile: name, State: core.StateIdle, Since: u.now()}, false)
	}
}

// applyEvent takes one event of the helper.
func (u *UI) applyEvent(ev core.Event) {
	switch ev.Kind {
	case core.EventLog:
		t := ev.Time
		if t.IsZero() {
			t = u.now()
		}
		u.addLog(logLine{Time: t, Level: ev.Level, Profile: ev.Status.Profile, Text: ev.Line})
	case core.EventStats:
		u.mu.Lock()
		h := u.history[ev.Status.Profile]
		if h == nil {
			h = &rateHistory{}
			u.history[ev.Status.Profile] = h
		}
		h.add(ev.Status.Stats.RxRate, ev.Status.Stats.TxRate)
		u.mu.Unlock()
		u.setStatus(ev.Status, true)
	case core.EventState, core.EventProgress:
		u.setStatus(ev.Status, true)
	default:
		u.setStatus(ev.Status, true)
	}
}

// setStatus records a profile's new status: log, notifications, view.
// live is false for statuses read with Status (no notifications).
func (u *UI) setStatus(st core.Status, live bool) {
	if st.Profile == "" {
		return
	}
	if st.State == "" {
		st.State = core.StateIdle
	}
	u.mu.Lock()
	prev := u.statusLocked(st.Profile)
	u.statuses[st.Profile] = st
	changed := prev.State != st.State
	if changed {
		switch {
		case st.State.Connecting() && !prev.State.Connecting():
			u.started[st.Profile] = u.now() // a connect, or a reconnect attempt, begins
		case st.State == core.StateConnected:
			u.history[st.Profile] = &rateHistory{}
		}
	}
	userDown := u.userDown[st.Profile]
	if st.State == core.StateIdle || st.State == core.StateFailed {
		delete(u.userDown, st.Profile)
	}
	u.mu.Unlock()

	if changed {
		u.logStateChange(prev, st)
		if live {
			u.notifyChange(prev, st, userDown)
		}
	}
	u.refreshProfile(st.Profile, changed)
}

func (u *UI) logStateChange(prev, st core.Status) {
	level := "INFO"
	text := st.State.Words()
	switch st.State {
	case core.StateFailed:
		level = "ERROR"
		if st.Error != nil {
			text += ": " + st.Error.Msg
		}
	case core.StateReconnecting:
		level = "WARN"
		if st.Detail != "" {
			text = st.Detail
		}
	case core.StateConnected:
		if st.Address != "" {
			text += " (address " + st.Address + ")"
		}
		if st.Proxy != "" {
			text += "; proxy: socks5 and http on " + st.Proxy
		}
	default:
		if st.Detail != "" && st.Detail != pendingDetail && !strings.EqualFold(st.Detail, text) {
			text += ": " + st.Detail
		}
	}
	u.logf(level, st.Profile, "%s", text)
}

// notifyChange sends the desktop notifications of a state change.
func (u *UI) notifyChange(prev, st core.Status, userDown bool) {
	name := st.Profile
	errMsg := ""
	if st.Error != nil {
		errMsg = st.Error.Msg
	}
	switch {
	case st.State == core.StateConnected:
		msg := "Connected to " + name
		if st.Address != "" {
			msg += " with address " + st.Address
		}
		if st.Proxy != "" {
			msg += "; programs reach it through the proxy on " + st.Proxy
		}
		u.send("Corridor: connected", msg)
	case st.State == core.StateReconnecting && prev.State == core.StateConnected:
		msg := "The connection to " + name + " was lost; reconnecting"
		if errMsg != "" {
			msg += ": " + errMsg
		}
		u.send("Corridor: reconnecting", msg)
	case prev.State == core.StateConnected && (st.State == core.StateIdle || st.State == core.StateFailed) && !userDown:
		msg := "Disconnected from " + name + " unexpectedly"
		if errMsg != "" {
			msg += ": " + errMsg
		}
		u.send("Corridor: disconnected", msg)
	case st.State == core.StateFailed:
		msg := "Could not connect to " + name
		if errMsg != "" {
			msg += ": " + errMsg
		}
		u.send("Corridor: connection failed", msg)
	}
}

func (u *UI) send(title, content string) {
	if u.notify != nil {
		u.notify(fyne.NewNotification(title, content))
	}
}

// setHelper records whether the helper answers (nil error: it does).
func (u *UI) setHelper(err error) {
	u.mu.Lock()
	prevErr, prevUp := u.helperErr, u.helperUp
	u.helperErr = err
	u.helperUp = err == nil
	u.mu.Unlock()
	switch {
	case err != nil && (prevErr == nil || prevErr.Error() != err.Error()):
		msg, hint := helperWords(err)
		u.logf("ERROR", "", "%s; %s", msg, hint)
	case err == nil && !prevUp:
		u.logf("INFO", "", "the Corridor helper answers")
	}
	changed := (err == nil) != (prevErr == nil) || (err != nil && err.Error() != prevErr.Error())
	if changed {
		if u.banner != nil {
			u.banner.set(err)
		}
		if u.detail != nil && u.selected != "" && u.editing == nil {
			u.detail.update(false) // Connect is enabled only with a helper
		}
	}
	u.refreshTray()
}

// helperDown reports the helper's error, nil when it answers or nothing
// is known yet.
func (u *UI) helperDown() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.helperErr
}

// ---- actions ----

// connect starts a connect of the named profile. A profile that asks for
// its password (or PSK) at each connect gets a dialog first.
func (u *UI) connect(name string) {
	var p profile.Profile
	u.mu.Lock()
	for _, q := range u.profiles {
		if q.Name == name {
			p = q
		}
	}
	u.mu.Unlock()
	if asked := p.Asked(); len(asked) > 0 {
		u.askSecrets(p, asked, func(typed map[profile.SecretKind]string) { u.startConnect(name, typed) })
		return
	}
	u.startConnect(name, nil)
}

// askForm is the dialog that asks for the secrets of one connect.
type askForm struct {
	dlg     *dialog.FormDialog
	entries map[profile.SecretKind]*widget.Entry
}

// askSecrets opens a dialog for the secrets p asks for; Connect hands
// them to then. They are not kept after that (only remembered, as values,
// to redact them from diagnostics).
func (u *UI) askSecrets(p profile.Profile, asked []profile.SecretKind, then func(map[profile.SecretKind]string)) {
	if u.asking != nil {
		u.asking.dlg.Hide()
	}
	f := &askForm{entries: map[profile.SecretKind]*widget.Entry{}}
	var items []*widget.FormItem
	for _, k := range asked {
		e := widget.NewPasswordEntry()
		label := "Password"
		if k == profile.SecretPSK {
			label = "Pre-shared key"
		}
		e.Validator = func(s string) error {
			if s == "" {
				return errors.New("enter the " + strings.ToLower(label))
			}
			return nil
		}
		f.entries[k] = e
		items = append(items, widget.NewFormItem(label, e))
	}
	title := "Connect " + p.Name
	if p.User != "" {
		title += " as " + p.User
	}
	f.dlg = dialog.NewForm(title, "Connect", "Cancel", items, func(ok bool) {
		typed := map[profile.SecretKind]string{}
		for k, e := range f.entries {
			typed[k] = e.Text
			e.SetText("")
		}
		if u.asking == f {
			u.asking = nil
		}
		if !ok {
			return
		}
		u.remember(typed)
		then(typed)
	}, u.win)
	u.asking = f
	u.win.Show() // a connect from the tray while the window is closed
	f.dlg.Show()
	if e := f.entries[asked[0]]; e != nil {
		u.win.Canvas().Focus(e)
	}
}

// startConnect starts a connect of the named profile with the secrets
// typed for it (nil: the keychain's).
func (u *UI) startConnect(name string, typed map[profile.SecretKind]string) {
	now := u.now()
	u.mu.Lock()
	u.started[name] = now
	delete(u.userDown, name)
	delete(u.cancelled, name)
	u.mu.Unlock()
	// Until the helper's first event, show the first stage.
	u.setStatus(core.Status{Profile: name, State: core.StateResolving, Since: now, Detail: pendingDetail}, false)
	ctx, timeout := u.ctx, u.callTimeout
	u.connects.Add(1)
	u.goBG(func() {
		defer u.connects.Done()
		cctx, cancel := context.WithTimeout(ctx, 3*time.Minute) // the keychain may ask to be unlocked
		defer cancel()
		var err error
		if typed != nil {
			err = u.b.ConnectWith(cctx, name, typed)
		} else {
			err = u.b.Connect(cctx, name)
		}
		if err != nil {
			u.do(func() { u.connectFailed(name, err) })
			return
		}
		u.mu.Lock()
		late := u.cancelled[name]
		delete(u.cancelled, name)
		u.mu.Unlock()
		if late {
			// Cancel came while Connect was still on its way (reading
			// the keychain, reaching the helper): end what it started.
			dctx, cancel := context.WithTimeout(ctx, 2*timeout)
			defer cancel()
			_ = u.b.Disconnect(dctx, name)
		}
	})
}

func (u *UI) connectFailed(name string, err error) {
	info := errorInfo(err)
	if errors.Is(err, profile.ErrNoSecret) {
		// Also when the error carries no hint key (a backend's own).
		info.Hint = storeHint
	}
	u.setStatus(core.Status{Profile: name, State: core.StateFailed, Since: u.now(), Error: info}, true)
}

// disconnect ends (or cancels) the named profile's session.
func (u *UI) disconnect(name string) {
	u.mu.Lock()
	u.userDown[name] = true
	st := u.statusLocked(name)
	if st.Detail == pendingDetail {
		u.cancelled[name] = true
	}
	u.mu.Unlock()
	u.logf("INFO", name, "disconnect requested")
	ctx, timeout := u.ctx, u.callTimeout
	u.goBG(func() {
		dctx, cancel := context.WithTimeout(ctx, 2*timeout)
		defer cancel()
		err := u.b.Disconnect(dctx, name)
		if err == nil {
			return
		}
		u.do(func() {
			cur := u.status(name)
			if cur.Detail == pendingDetail || st.State == core.StateFailed {
				// Nothing had reached the helper yet.
				u.setStatus(core.Status{Profile: name, State: core.StateIdle, Since: u.now()}, false)
				return
			}
			info := errorInfo(err)
			u.logf("ERROR", name, "disconnect failed: %s", info.Msg)
			u.showError("Could not disconnect "+name, err)
		})
	})
}

// active lists the profiles whose sessions are up or on their way.
func (u *UI) active() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var out []string
	for name, st := range u.statuses {
		if isActive(st.State) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func isActive(s core.State) bool {
	return s == core.StateConnected || s.Connecting() || s == core.StateReconnecting || s == core.StateDisconnecting
}

// errorInfo turns an error into the core's plain words, with the hint in
// the window's terms (hintFor).
func errorInfo(err error) *core.ErrorInfo {
	var ce *core.Error
	if errors.As(err, &ce) {
		info := ce.Info()
		info.Hint = hintFor(info)
		return info
	}
	var ve profile.ValidationErrors
	if errors.As(err, &ve) {
		return &core.ErrorInfo{Class: core.ClassUsage, Msg: ve.Error(), Hint: "edit the profile and fix the fields shown"}
	}
	return &core.ErrorInfo{Class: core.ClassInternal, Msg: err.Error()}
}

// helperWords is what to say when the helper does not answer.
func helperWords(err error) (msg, hint string) {
	var ce *core.Error
	if errors.As(err, &ce) {
		msg, hint = ce.Msg, ce.Hint
	} else {
		msg = "Corridor cannot reach its helper: " + err.Error()
	}
	if hint == "" {
		hint = "start the Corridor helper (corridor daemon) and try again"
	}
	return msg, hint
}

// helperCommand picks the command out of a hint such as
// "start it: sudo systemctl start corridor (or: sudo corridor daemon)".
func helperCommand(hint string) string {
	cmd := hint
	if i := strings.Index(cmd, ": "); i >= 0 {
		cmd = cmd[i+2:]
	}
	if j := strings.Index(cmd, " (or"); j >= 0 {
		cmd = cmd[:j]
	}
	return strings.TrimSpace(cmd)
}
