package gui

import (
	"strings"

	"fyne.io/fyne/v2"

	"github.com/corridorvpn/corridor/assets"
	"github.com/corridorvpn/corridor/core"
)

// TrayState is what the tray icon shows.
type TrayState int

// Tray states.
const (
	TrayDisconnected TrayState = iota
	TrayConnecting             // a connect or reconnect is under way
	TrayConnected
	TrayError // a connect failed, or the helper is not running
)

func (s TrayState) String() string {
	switch s {
	case TrayConnecting:
		return "connecting"
	case TrayConnected:
		return "connected"
	case TrayError:
		return "error"
	}
	return "disconnected"
}

// trayModel is the state the tray is drawn from.
type trayModel struct {
	state    TrayState
	title    string
	profiles []string
	states   map[string]core.State
	up       []string // the profiles whose session is up or on its way, in menu order
	anyUp    bool
}

func (u *UI) trayModel() trayModel {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := trayModel{states: map[string]core.State{}}
	var connected, connecting, failed []string
	var failMsg, connectingWords string
	for _, p := range u.profiles {
		m.profiles = append(m.profiles, p.Name)
	}
	for _, name := range m.profiles {
		st := u.statusLocked(name)
		m.states[name] = st.State
		switch {
		case st.State == core.StateConnected:
			connected = append(connected, name)
		case st.State.Connecting() || st.State == core.StateReconnecting:
			connecting = append(connecting, name)
			if connectingWords == "" {
				connectingWords = st.State.Words()
			}
		case st.State == core.StateFailed:
			failed = append(failed, name)
			if failMsg == "" && st.Error != nil {
				failMsg = st.Error.Msg
			}
		}
		if isActive(st.State) {
			m.anyUp = true
			m.up = append(m.up, name)
		}
	}
	switch {
	case len(connecting) > 0:
		m.state = TrayConnecting
		m.title = "Corridor: connecting to " + strings.Join(connecting, ", ")
		if len(connecting) == 1 && connectingWords != "" {
			m.title += " (" + connectingWords + ")"
		}
	case len(connected) > 0:
		m.state = TrayConnected
		m.title = "Corridor: connected to " + strings.Join(connected, ", ")
	case u.helperErr != nil:
		m.state = TrayError
		m.title = "Corridor: the helper is not running"
	case len(failed) > 0:
		m.state = TrayError
		m.title = "Corridor: " + strings.Join(failed, ", ") + " failed"
		if failMsg != "" {
			m.title += ": " + failMsg
		}
	default:
		m.state = TrayDisconnected
		m.title = "Corridor: disconnected"
	}
	return m
}

// TrayState is the state the tray icon shows.
func (u *UI) TrayState() TrayState { return u.trayModel().state }

// TrayTitle is the tray's tooltip/title, e.g. "Corridor: connected to office".
func (u *UI) TrayTitle() string { return u.trayModel().title }

// TrayIcon is the tray icon for the current state (from assets/).
func (u *UI) TrayIcon() fyne.Resource { return trayIcon(u.TrayState()) }

func trayIcon(s TrayState) fyne.Resource {
	switch s {
	case TrayConnecting:
		return assets.TrayConnecting
	case TrayConnected:
		return assets.TrayConnected
	case TrayError:
		return assets.TrayError
	}
	return assets.TrayDisconnected
}

// TrayMenu is the current tray menu: one "Connect <profile>" per profile
// (checked when connected, disabled while its session is up or on its
// way), one "Disconnect <profile>" per profile that is up or on its way
// (disabled while it is already disconnecting), "Disconnect all" when two
// or more are, "Show window", a separator and "Quit" (IsQuit; it calls
// the OnQuit function). Call it again after OnTrayChange fires: the menu is a new
// value each time. Actions run on Fyne's goroutine; the backend calls
// they make run in goroutines.
func (u *UI) TrayMenu() *fyne.Menu {
	m := u.trayModel()
	var items []*fyne.MenuItem
	for _, name := range m.profiles {
		name := name
		it := fyne.NewMenuItem("Connect "+name, func() { u.connect(name) })
		st := m.states[name]
		it.Checked = st == core.StateConnected
		it.Disabled = isActive(st)
		items = append(items, it)
	}
	for _, name := range m.up {
		name := name
		it := fyne.NewMenuItem("Disconnect "+name, func() { u.disconnect(name) })
		it.Disabled = m.states[name] == core.StateDisconnecting
		items = append(items, it)
	}
	if len(m.up) >= 2 {
		items = append(items, fyne.NewMenuItem("Disconnect all", func() {
			for _, name := range u.active() {
				u.disconnect(name)
			}
		}))
	}
	show := fyne.NewMenuItem("Show window", u.ShowWindow)
	quit := fyne.NewMenuItem("Quit", u.quit)
	quit.IsQuit = true
	items = append(items, show, fyne.NewMenuItemSeparator(), quit)
	return fyne.NewMenu("Corridor", items...)
}

// OnTrayChange sets the function called (on Fyne's goroutine) whenever
// the tray's menu, icon or title change; the desktop shell then calls
// SetSystemTrayMenu(u.TrayMenu()) and SetSystemTrayIcon(u.TrayIcon()).
func (u *UI) OnTrayChange(f func()) {
	u.onTray = f
	u.traySig = ""
}

// OnQuit sets what the tray's Quit does (the shell quits the app). The
// window size is saved before f runs.
func (u *UI) OnQuit(f func()) { u.onQuit = f }

func (u *UI) quit() {
	u.SaveWindowSize()
	if u.onQuit != nil {
		u.onQuit()
		return
	}
	u.app.Quit()
}

// refreshTray calls the OnTrayChange function when what the tray shows
// has changed.
func (u *UI) refreshTray() {
	m := u.trayModel()
	var b strings.Builder
	b.WriteString(m.state.String())
	b.WriteByte('|')
	b.WriteString(m.title)
	for _, name := range m.profiles {
		st := m.states[name]
		b.WriteString("|" + name)
		if st == core.StateConnected {
			b.WriteString("+c")
		}
		if isActive(st) {
			b.WriteString("+a")
		}
		if st == core.StateDisconnecting {
			b.WriteString("+d")
		}
	}
	if m.anyUp {
		b.WriteString("|up")
	}
	sig := b.String()
	if sig == u.traySig {
		return
	}
	u.traySig = sig
	if u.onTray != nil {
		u.onTray()
	}
}
