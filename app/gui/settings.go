package gui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
)

// PrefStartConnect is the preference key of the profile to connect when
// the app starts ("": none).
const PrefStartConnect = "start.connect"

// Words of the Settings tab.
const (
	noStartConnect = "Don't connect"
	autostartNA    = "Not available on this system yet."
	autostartNote  = "Corridor starts in the system tray, with its window closed (the window opens when no tray shows up)."
)

// settingsView is the Settings tab: starting with the session, and the
// profile to connect when the app starts.
type settingsView struct {
	u          *UI
	login      *widget.Check
	loginNote  *widget.Label
	connect    *widget.Select
	connectFor []string // the profile of each of connect's options ("" first: none)
	syncing    bool     // the program is setting the widgets
	content    fyne.CanvasObject
}

func newSettingsView(u *UI) *settingsView {
	s := &settingsView{u: u}
	heading := func(text string) *widget.Label {
		return widget.NewLabelWithStyle(text, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	s.login = widget.NewCheck("Start Corridor when I log in", s.loginChanged)
	s.loginNote = widget.NewLabel("")
	s.loginNote.Wrapping = fyne.TextWrapWord
	s.loginNote.Importance = widget.LowImportance
	s.connect = widget.NewSelect(nil, func(string) { s.connectChanged() })
	s.connect.PlaceHolder = noStartConnect
	connectNote := widget.NewLabel("Corridor connects it once when it starts, as soon as the helper answers " +
		"(a profile in proxy mode needs no helper), unless it is connected already.")
	connectNote.Wrapping = fyne.TextWrapWord
	connectNote.Importance = widget.LowImportance
	body := container.NewVBox(
		heading("When you log in"),
		s.login, s.loginNote,
		widget.NewSeparator(),
		heading("When Corridor starts"),
		container.NewBorder(nil, nil, widget.NewLabel("Connect:"), nil, s.connect),
		connectNote,
		layout.NewSpacer(),
	)
	s.content = container.NewVScroll(container.New(&readableWidth{max: 560}, container.NewPadded(body)))
	s.update()
	return s
}

// update shows the current settings (Fyne goroutine).
func (s *settingsView) update() {
	s.syncing = true
	defer func() { s.syncing = false }()

	if a := s.u.autostart; a == nil {
		s.login.SetChecked(false)
		s.login.Disable()
		s.loginNote.SetText(autostartNA)
	} else {
		on, err := a.Enabled()
		if err != nil {
			s.u.logf("WARN", "", "cannot tell whether Corridor starts at login: %v", err)
		}
		s.login.SetChecked(on)
		s.login.Enable()
		s.loginNote.SetText(autostartNote)
	}

	opts := []string{noStartConnect}
	s.connectFor = []string{""}
	for _, p := range s.u.profileList() {
		opts = append(opts, p.Name)
		s.connectFor = append(s.connectFor, p.Name)
	}
	s.connect.SetOptions(opts)
	want := s.u.app.Preferences().String(PrefStartConnect)
	for i, name := range s.connectFor {
		if name == want {
			s.connect.SetSelectedIndex(i)
			return
		}
	}
	s.connect.ClearSelected() // a profile that is gone: the placeholder, until the start clears it
}

func (s *settingsView) loginChanged(on bool) {
	u := s.u
	if s.syncing || u.autostart == nil {
		return
	}
	if err := u.autostart.SetEnabled(on); err != nil {
		u.logf("ERROR", "", "could not change starting at login: %v", err)
		u.showError("Could not change starting at login", err)
		s.update()
		return
	}
	if on {
		u.logf("INFO", "", "Corridor will start when you log in (%s)", u.autostart.Where())
	} else {
		u.logf("INFO", "", "Corridor will not start when you log in (removed %s)", u.autostart.Where())
	}
}

func (s *settingsView) connectChanged() {
	if s.syncing {
		return
	}
	i := s.connect.SelectedIndex()
	if i < 0 || i >= len(s.connectFor) {
		return
	}
	s.u.setStartConnect(s.connectFor[i])
	if name := s.connectFor[i]; name != "" {
		s.u.logf("INFO", name, "will be connected when Corridor starts")
	} else {
		s.u.logf("INFO", "", "no profile will be connected when Corridor starts")
	}
}

// SetAutostart gives the UI the way to start the app at login (nil: the
// system has none here, and Settings shows the option disabled). Call it
// on Fyne's goroutine, before Start or after.
func (u *UI) SetAutostart(a Autostart) {
	u.autostart = a
	if u.settings != nil {
		u.settings.update()
	}
}

// ShowSettings switches to the Settings tab.
func (u *UI) ShowSettings() { u.tabs.Select(u.settingsTab) }

// startConnectName is the profile chosen in Settings to connect at start.
func (u *UI) startConnectName() string {
	return u.app.Preferences().String(PrefStartConnect)
}

// setStartConnect stores the profile to connect at start ("": none).
func (u *UI) setStartConnect(name string) {
	if name == "" {
		u.app.Preferences().RemoveValue(PrefStartConnect)
		return
	}
	u.app.Preferences().SetString(PrefStartConnect, name)
}

// connectAtStart connects the profile chosen in Settings ("When Corridor
// starts, connect"), once per run (Fyne goroutine). helperKnown: the
// helper's status snapshot has been applied, so every session is known;
// otherwise the helper is away and only this user's own sessions are
// known, and only a proxy-mode profile (which needs no helper) is
// connected now: another waits for the helper. A profile that is up or
// on its way already is left alone; one that no longer exists clears the
// setting, with a warning in the log.
func (u *UI) connectAtStart(helperKnown bool) {
	if u.startDone {
		return
	}
	name := u.startConnectName()
	if name == "" {
		u.startDone = true
		return
	}
	p, ok := u.profileByName(name)
	if !ok {
		u.startDone = true
		u.logf("WARN", "", "the profile %q chosen in Settings to connect at start no longer exists; the setting is cleared", name)
		u.setStartConnect("")
		u.settings.update()
		return
	}
	if !helperKnown && !p.IsProxy() {
		return
	}
	u.startDone = true
	if st := u.status(name); isActive(st.State) {
		u.logf("INFO", name, "already up or on its way (%s); not connecting it again at start", st.State.Words())
		return
	}
	u.logf("INFO", name, "connecting at start (Settings)")
	u.connect(name)
}
