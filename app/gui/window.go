package gui

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// build creates the window's content: the helper banner above three
// tabs, Connections (profile list | detail), Log and Settings.
func (u *UI) build() fyne.CanvasObject {
	u.banner = newHelperBanner(u)
	u.logv = newLogView(u)
	u.detail = newDetailView(u)
	u.welcome = newWelcomeView(u)
	u.settings = newSettingsView(u)

	u.list = widget.NewList(
		func() int { return len(u.listRows) },
		func() fyne.CanvasObject {
			icon := widget.NewIcon(theme.MediaRecordIcon())
			name := widget.NewLabelWithStyle("profile name", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
			name.Truncation = fyne.TextTruncateEllipsis
			state := widget.NewLabel("state")
			state.SizeName = theme.SizeNameCaptionText
			state.Truncation = fyne.TextTruncateEllipsis
			return container.NewBorder(nil, nil, icon, nil, container.NewVBox(name, state))
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < 0 || id >= len(u.listRows) {
				return
			}
			p := u.listRows[id]
			st := u.status(p.Name)
			row := o.(*fyne.Container)
			texts := row.Objects[0].(*fyne.Container)
			texts.Objects[0].(*widget.Label).SetText(p.Name)
			texts.Objects[1].(*widget.Label).SetText(listWords(st))
			row.Objects[1].(*widget.Icon).SetResource(stateIcon(st.State))
		},
	)
	u.list.OnSelected = func(id widget.ListItemID) {
		if u.syncing {
			return // the program moved the selection, not the user
		}
		if id >= 0 && id < len(u.listRows) {
			name := u.listRows[id].Name
			u.leaveEditor(func() { u.selectProfile(name) })
		}
	}

	add := widget.NewButtonWithIcon("Add", theme.ContentAddIcon(), u.editNew)
	imp := widget.NewButtonWithIcon("Import…", theme.FolderOpenIcon(), u.importDialog)
	u.profNote = widget.NewLabel("")
	u.profNote.Wrapping = fyne.TextWrapWord
	u.profNote.Importance = widget.WarningImportance
	u.profNote.Hide()
	u.left = container.NewBorder(container.NewGridWithColumns(2, add, imp), u.profNote, nil, nil, u.list)

	u.right = container.NewStack()
	split := container.NewHSplit(u.left, u.right)
	split.Offset = 0.3

	u.connTab = container.NewTabItemWithIcon("Connections", theme.ComputerIcon(), split)
	u.logTab = container.NewTabItemWithIcon("Log", theme.ListIcon(), u.logv.content)
	u.settingsTab = container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), u.settings.content)
	u.tabs = container.NewAppTabs(u.connTab, u.logTab, u.settingsTab)

	minimum := canvas.NewRectangle(color.Transparent)
	minimum.SetMinSize(MinWindowSize)
	u.root = container.NewBorder(u.banner.content, nil, nil, nil, u.tabs)
	return container.NewStack(minimum, u.root)
}

// listWords is the second line of a profile in the list.
func listWords(st core.Status) string {
	switch {
	case st.State == core.StateConnected && st.Address != "":
		return "connected · " + st.Address
	case st.State == core.StateFailed:
		return "failed"
	case st.State.Connecting():
		return "connecting: " + st.State.Words()
	}
	return st.State.Words()
}

// stateIcon is a coloured dot for a state (theme colours).
func stateIcon(s core.State) fyne.Resource {
	dot := theme.MediaRecordIcon()
	switch {
	case s == core.StateConnected:
		return theme.NewSuccessThemedResource(dot)
	case s == core.StateFailed:
		return theme.NewErrorThemedResource(dot)
	case s.Connecting() || s == core.StateReconnecting || s == core.StateDisconnecting:
		return theme.NewWarningThemedResource(dot)
	}
	return theme.NewDisabledResource(dot)
}

// refreshAll redraws the list, the right pane and the tray.
func (u *UI) refreshAll() {
	u.listRows = u.profileList()
	if u.selected != "" && !u.hasProfile(u.selected) && (u.editing == nil || u.editing.orig != u.selected) {
		u.selected = ""
	}
	if u.selected == "" && u.editing == nil && len(u.listRows) > 0 {
		u.selected = u.listRows[0].Name
	}
	u.list.Refresh()
	u.syncListSelection()
	u.mu.Lock()
	bad := len(u.profErrs)
	u.mu.Unlock()
	if had := u.profNote.Visible(); bad > 0 {
		u.profNote.SetText(fmt.Sprintf("%d profile file(s) could not be read; the Log says why.", bad))
		u.profNote.Show()
		if !had {
			u.left.Refresh()
		}
	} else if had {
		u.profNote.Hide()
		u.left.Refresh()
	}
	u.showRight()
	u.settings.update()
	u.refreshTray()
}

func (u *UI) syncListSelection() {
	u.syncing = true
	defer func() { u.syncing = false }()
	for i, p := range u.listRows {
		if p.Name == u.selected {
			u.list.Select(i)
			return
		}
	}
	u.list.UnselectAll()
}

// refreshProfile redraws what shows one profile's state.
func (u *UI) refreshProfile(name string, stateChanged bool) {
	for i, p := range u.listRows {
		if p.Name == name {
			u.list.RefreshItem(i)
		}
	}
	if name == u.selected && u.editing == nil {
		u.detail.update(stateChanged)
	}
	u.refreshTray()
}

// showRight puts the editor, the selected profile or the welcome in the
// right pane.
func (u *UI) showRight() {
	var obj fyne.CanvasObject
	switch {
	case u.editing != nil:
		obj = u.editing.content
	case len(u.listRows) == 0:
		u.welcome.update()
		obj = u.welcome.content
	case u.selected == "":
		obj = container.NewCenter(widget.NewLabel("Select a profile"))
	default:
		u.detail.show(u.selected)
		obj = u.detail.content
	}
	if len(u.right.Objects) != 1 || u.right.Objects[0] != obj {
		u.right.Objects = []fyne.CanvasObject{obj}
		u.right.Refresh()
	}
}

// leaveEditor runs then once the open editor may be left: at once when
// nothing in it was edited, otherwise after the user agrees to discard the
// changes. Keeping them puts the list selection back where it was.
func (u *UI) leaveEditor(then func()) {
	e := u.editing
	if e == nil || !e.dirty() {
		then()
		return
	}
	what := "the new profile"
	if e.orig != "" {
		what = fmt.Sprintf("%q", e.orig)
	}
	d := dialog.NewConfirm("Discard changes?", "Your changes to "+what+" are not saved.", func(discard bool) {
		if discard && u.editing == e {
			then()
			return
		}
		u.syncListSelection()
	}, u.win)
	d.SetConfirmText("Discard")
	d.SetDismissText("Keep editing")
	d.Show()
}

// selectProfile shows a profile in the right pane (leaving any editor).
func (u *UI) selectProfile(name string) {
	if u.selected == name && u.editing == nil {
		return
	}
	u.selected = name
	u.editing = nil
	u.syncListSelection()
	u.showRight()
}

// ShowLog switches to the Log tab.
func (u *UI) ShowLog() {
	u.tabs.Select(u.logTab)
	u.logv.scrollToEnd()
}

// showError shows an error in the core's plain words in a dialog.
func (u *UI) showError(title string, err error) {
	info := errorInfo(err)
	text := info.Msg
	if info.Hint != "" {
		text += "\n\n" + info.Hint
	}
	msg := widget.NewLabel(text)
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom(title, "Close", msg, u.win)
	d.Resize(fyne.NewSize(480, 260))
	d.Show()
}

// ---- window ----

func (u *UI) savedSize() fyne.Size {
	p := u.app.Preferences()
	w := float32(p.FloatWithFallback(PrefWindowWidth, float64(DefaultWindowSize.Width)))
	h := float32(p.FloatWithFallback(PrefWindowHeight, float64(DefaultWindowSize.Height)))
	return fyne.NewSize(max(w, MinWindowSize.Width), max(h, MinWindowSize.Height))
}

// SaveWindowSize stores the window's size in the app's preferences
// (PrefWindowWidth, PrefWindowHeight); New restores it. Closing the
// window and the tray's Quit call it.
func (u *UI) SaveWindowSize() {
	s := u.win.Canvas().Size()
	if s.Width < MinWindowSize.Width || s.Height < MinWindowSize.Height {
		return
	}
	p := u.app.Preferences()
	p.SetFloat(PrefWindowWidth, float64(s.Width))
	p.SetFloat(PrefWindowHeight, float64(s.Height))
}

// SetTrayAvailable sets how the UI learns whether a system tray shows
// the app's icon now (on Linux: whether a StatusNotifier host runs). It
// is asked at each close of the window: with a tray the window hides and
// the app stays there; without one the app quits. nil (the default):
// there always is a tray.
func (u *UI) SetTrayAvailable(f func() bool) { u.trayAvailable = f }

// closeWindow hides the window, and the app stays in the tray. With no
// tray to stay in, it quits instead: at once with nothing up, after the
// user agrees to disconnect the sessions that are up or on their way
// otherwise (quitFromWindow).
func (u *UI) closeWindow() {
	u.SaveWindowSize()
	if u.trayAvailable != nil && !u.trayAvailable() {
		u.quitFromWindow()
		return
	}
	u.win.Hide()
	if !u.closeNote {
		u.closeNote = true
		u.send("Corridor is still running", "Corridor keeps running in the system tray; use its menu to connect, show the window or quit.")
	}
}

// quitFromWindow quits when the window closes with no tray to keep the
// app in. Sessions that are up or on their way would be left with nothing
// on screen to show or end them, so the user is asked first and they are
// disconnected before the app quits.
func (u *UI) quitFromWindow() {
	if u.quitting {
		return
	}
	up := u.active()
	if len(up) == 0 {
		u.quit()
		return
	}
	var what []string
	for _, name := range up {
		state := "connecting"
		switch u.status(name).State {
		case core.StateConnected:
			state = "connected"
		case core.StateDisconnecting:
			state = "disconnecting"
		}
		what = append(what, fmt.Sprintf("%s (%s)", name, state))
	}
	list := what[0]
	if n := len(what); n > 1 {
		list = strings.Join(what[:n-1], ", ") + " and " + what[n-1]
	}
	msg := widget.NewLabel("There is no system tray for Corridor to stay in, so closing the window quits it. " +
		"Quitting disconnects " + list + ".")
	msg.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustomConfirm("Quit and disconnect?", "Quit and disconnect", "Cancel", msg, func(ok bool) {
		if ok {
			u.disconnectAndQuit()
		}
	}, u.win)
	d.Resize(fyne.NewSize(480, 220))
	d.Show()
}

// disconnectAndQuit disconnects every session that is up or on its way,
// waits for the helper's answers (and for Connect calls still on their
// way, which then end what they started), and quits. When a disconnect
// fails the app stays, with the window and the error shown.
func (u *UI) disconnectAndQuit() {
	names := u.active()
	u.quitting = true
	u.mu.Lock()
	for _, name := range names {
		u.userDown[name] = true
		if u.statusLocked(name).Detail == pendingDetail {
			u.cancelled[name] = true
		}
	}
	u.mu.Unlock()
	for _, name := range names {
		u.logf("INFO", name, "disconnect requested (quitting)")
	}
	u.win.Hide()
	ctx, timeout := u.ctx, u.callTimeout
	u.goBG(func() {
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dctx, cancel := context.WithTimeout(ctx, 2*timeout)
				defer cancel()
				errs[i] = u.b.Disconnect(dctx, name)
			}()
		}
		wg.Wait()
		waitUntil(&u.connects, 2*timeout)
		u.do(func() {
			u.quitting = false
			failed := false
			for i, err := range errs {
				if err == nil || u.status(names[i]).Detail == pendingDetail {
					continue // nothing had reached the helper: Connect's own goroutine ends it
				}
				failed = true
				u.logf("ERROR", names[i], "disconnect failed: %s", errorInfo(err).Msg)
				u.ShowWindow()
				u.showError("Could not disconnect "+names[i], err)
			}
			if !failed {
				u.quit()
			}
		})
	})
}

// waitUntil waits for wg, at most d.
func waitUntil(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// ShowWindow shows and raises the main window ("Show window" in the tray).
func (u *UI) ShowWindow() {
	u.win.Show()
	u.win.RequestFocus()
}

func (u *UI) addShortcuts() {
	c := u.win.Canvas()
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { u.editNew() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyO, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { u.importDialog() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyL, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { u.ShowLog() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.Key1, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { u.tabs.Select(u.connTab) })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyComma, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { u.ShowSettings() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyW, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) { u.closeWindow() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyS, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) {
		if u.editing != nil && !u.editing.save.Disabled() {
			u.editing.doSave()
		}
	})
}

// themeChanged recolours what does not follow the theme by itself.
func (u *UI) themeChanged() {
	u.banner.content.Objects[0].(*canvas.Rectangle).FillColor = theme.Color(theme.ColorNameInputBackground)
	u.banner.content.Refresh()
}

// ---- import / export / delete ----

var importExtensions = []string{".nmconnection", ".mobileconfig", ".toml"}

func (u *UI) importDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			u.showError("Import", err)
			return
		}
		if r == nil {
			return
		}
		defer r.Close()
		data, err := io.ReadAll(io.LimitReader(r, 4<<20))
		if err != nil {
			u.showError("Import", err)
			return
		}
		u.importData(r.URI().Name(), data)
	}, u.win)
	d.SetFilter(storage.NewExtensionFileFilter(importExtensions))
	d.Show()
}

// dropped imports profile files dropped on the window.
func (u *UI) dropped(_ fyne.Position, uris []fyne.URI) {
	for _, uri := range uris {
		ok := false
		for _, ext := range importExtensions {
			if strings.EqualFold(uri.Extension(), ext) {
				ok = true
			}
		}
		if !ok || uri.Scheme() != "file" {
			continue
		}
		data, err := os.ReadFile(uri.Path())
		if err != nil {
			u.showError("Import", err)
			continue
		}
		u.importData(uri.Name(), data)
	}
}

func (u *UI) exportDialog(name string) {
	data, err := u.b.Export(name)
	if err != nil {
		u.showError("Could not export "+name, err)
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			u.showError("Export", err)
			return
		}
		if w == nil {
			return
		}
		_, err = w.Write(data)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			u.showError("Could not export "+name, err)
			return
		}
		u.logf("INFO", name, "exported to %s (without secrets)", w.URI().Path())
	}, u.win)
	d.SetFileName(name + ".toml")
	d.Show()
}

func (u *UI) confirmDelete(name string) {
	msg := fmt.Sprintf("Delete the profile %q and its password and keys in the keychain?", name)
	if isActive(u.status(name).State) {
		msg += "\nIt will be disconnected first."
	}
	dialog.ShowConfirm("Delete profile", msg, func(ok bool) {
		if ok {
			u.deleteProfile(name)
		}
	}, u.win)
}

func (u *UI) deleteProfile(name string) {
	wasActive := isActive(u.status(name).State)
	if wasActive {
		u.mu.Lock()
		u.userDown[name] = true
		u.mu.Unlock()
	}
	ctx, timeout := u.ctx, u.callTimeout
	u.goBG(func() {
		if wasActive {
			dctx, cancel := context.WithTimeout(ctx, 2*timeout)
			_ = u.b.Disconnect(dctx, name)
			cancel()
		}
		err := u.b.RemoveProfile(name)
		u.do(func() {
			if err != nil {
				u.showError("Could not delete "+name, err)
				return
			}
			u.logf("INFO", name, "profile deleted")
			if u.startConnectName() == name {
				u.setStartConnect("")
				u.logf("INFO", name, "no longer connected when Corridor starts")
			}
			u.mu.Lock()
			delete(u.statuses, name)
			delete(u.history, name)
			u.mu.Unlock()
			if u.selected == name {
				u.selected = ""
			}
			u.reloadProfiles()
		})
	})
}

// ---- helper banner ----

// helperBanner tells that the helper is not running and how to start it.
type helperBanner struct {
	u       *UI
	msg     *widget.Label
	hint    *widget.Label
	copyBtn *widget.Button
	retry   *widget.Button
	command string
	content *fyne.Container
}

func newHelperBanner(u *UI) *helperBanner {
	h := &helperBanner{u: u}
	h.msg = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	h.msg.Wrapping = fyne.TextWrapWord
	h.msg.Importance = widget.DangerImportance
	h.hint = widget.NewLabel("")
	h.hint.Wrapping = fyne.TextWrapWord
	h.hint.Selectable = true
	h.copyBtn = widget.NewButtonWithIcon("Copy command", theme.ContentCopyIcon(), func() {
		u.app.Clipboard().SetContent(h.command)
	})
	h.retry = widget.NewButtonWithIcon("Check again", theme.ViewRefreshIcon(), func() {
		select {
		case u.retry <- struct{}{}:
		default:
		}
	})
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	icon := widget.NewIcon(theme.NewErrorThemedResource(theme.WarningIcon()))
	body := container.NewBorder(nil, nil, icon, container.NewVBox(h.copyBtn, h.retry), container.NewVBox(h.msg, h.hint))
	h.content = container.NewStack(bg, container.NewPadded(body))
	h.content.Hide()
	return h
}

func (h *helperBanner) set(err error) {
	defer func() {
		if h.u.root != nil {
			h.u.root.Refresh() // the banner's height changed: lay the window out again
		}
	}()
	if err == nil {
		h.content.Hide()
		return
	}
	msg, hint := helperWords(err)
	h.msg.SetText(sentence(msg))
	h.hint.SetText(sentence(hint))
	h.command = helperCommand(hint)
	if h.command == "" {
		h.copyBtn.Hide()
	} else {
		h.copyBtn.Show()
	}
	h.content.Objects[0].(*canvas.Rectangle).FillColor = theme.Color(theme.ColorNameInputBackground)
	h.content.Show()
	h.content.Refresh()
}

// sentence capitalises the first letter and ends s with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, ")") && !strings.HasSuffix(s, "?") {
		s += "."
	} else if strings.HasSuffix(s, ")") {
		s += "."
	}
	return s
}

// ---- welcome ----

// welcomeView is what an empty profile list shows.
type welcomeView struct {
	u       *UI
	demoBtn *widget.Button
	addBtn  *widget.Button
	impBtn  *widget.Button
	buttons *fyne.Container
	note    *widget.Label
	content fyne.CanvasObject
}

func newWelcomeView(u *UI) *welcomeView {
	w := &welcomeView{u: u}
	title := widget.NewLabelWithStyle("Welcome to Corridor", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	text := widget.NewLabel("You have no VPN profiles yet. Add one with the server's address, your user name and password " +
		"and the pre-shared key (PSK) your administrator gave you, or import a NetworkManager (.nmconnection) " +
		"or Apple (.mobileconfig) file. Passwords and keys are kept in your system keychain, never in a file.")
	text.Wrapping = fyne.TextWrapWord
	text.Alignment = fyne.TextAlignCenter
	w.demoBtn = widget.NewButtonWithIcon("Add the Local demo profile", theme.ContentAddIcon(), w.addDemo)
	w.demoBtn.Importance = widget.HighImportance
	w.addBtn = widget.NewButtonWithIcon("Add profile", theme.ContentAddIcon(), func() { u.editNew() })
	w.addBtn.Importance = widget.HighImportance
	w.impBtn = widget.NewButtonWithIcon("Import…", theme.FolderOpenIcon(), u.importDialog)
	w.note = widget.NewLabel("")
	w.note.Wrapping = fyne.TextWrapWord
	w.note.Alignment = fyne.TextAlignCenter
	w.note.Importance = widget.LowImportance
	w.buttons = container.NewHBox(layout.NewSpacer(), w.demoBtn, w.addBtn, w.impBtn, layout.NewSpacer())
	w.content = container.NewVScroll(container.New(&readableWidth{max: 560},
		container.NewVBox(layout.NewSpacer(), title, text, w.buttons, w.note, layout.NewSpacer())))
	return w
}

// readableWidth centres its objects, no wider than max, at full height.
type readableWidth struct{ max float32 }

func (l *readableWidth) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	w := min(size.Width, l.max)
	for _, o := range objs {
		h := max(size.Height, o.MinSize().Height)
		o.Resize(fyne.NewSize(w, h))
		o.Move(fyne.NewPos((size.Width-w)/2, 0))
	}
}

func (l *readableWidth) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

func (w *welcomeView) update() {
	server := w.u.getenv(EnvDemoServer)
	if server == "" {
		w.demoBtn.Hide()
		w.addBtn.Importance = widget.HighImportance
		w.note.SetText("")
	} else {
		w.demoBtn.Show()
		w.addBtn.Importance = widget.MediumImportance
		w.note.SetText("The Local demo profile connects to the test server at " + server + " started by the demo script.")
	}
	w.addBtn.Refresh()
	w.buttons.Refresh()
	w.content.Refresh()
}

// addDemo adds the Local demo profile from the demo script's settings.
// The secrets go from their files to the keychain only.
func (w *welcomeView) addDemo() {
	u := w.u
	p, secrets, err := demoProfile(u.getenv)
	if err != nil {
		u.showError("Could not add the Local demo profile", err)
		return
	}
	w.demoBtn.Disable()
	u.goBG(func() {
		err := u.b.SaveProfile(p, secrets)
		u.do(func() {
			w.demoBtn.Enable()
			if err != nil {
				u.showError("Could not add the Local demo profile", err)
				return
			}
			u.remember(secrets)
			u.logf("INFO", p.Name, "added the Local demo profile (server %s)", p.Server)
			u.reloadProfiles()
			u.selectProfile(p.Name)
		})
	})
}

// demoProfile builds the Local demo profile from the environment.
func demoProfile(getenv func(string) string) (profile.Profile, map[profile.SecretKind]string, error) {
	p := profile.NewProfile(DemoProfileName)
	p.Server = getenv(EnvDemoServer)
	p.User = getenv(EnvDemoUser)
	if p.User == "" {
		p.User = "demo"
	}
	secrets := map[profile.SecretKind]string{}
	for kind, env := range map[profile.SecretKind]string{profile.SecretPassword: EnvDemoPasswordFile, profile.SecretPSK: EnvDemoPSKFile} {
		path := getenv(env)
		if path == "" {
			return p, nil, fmt.Errorf("%s is not set: the demo script sets it to the file with the %s", env, kind)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return p, nil, fmt.Errorf("reading the demo %s: %w", kind, err)
		}
		v := strings.TrimRight(string(data), "\r\n")
		if v == "" {
			return p, nil, fmt.Errorf("the demo %s file %s is empty", kind, path)
		}
		secrets[kind] = v
	}
	if err := p.Validate(); err != nil {
		return p, nil, err
	}
	return p, secrets, nil
}

// remember notes secret values the UI handled, so that diagnostics
// redact them even when the keychain cannot be read later.
func (u *UI) remember(secrets map[profile.SecretKind]string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, v := range secrets {
		if v != "" {
			u.known[v] = true
		}
	}
}

// elapsed formats a duration as 0:07 or 1:02:03.
func elapsed(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
