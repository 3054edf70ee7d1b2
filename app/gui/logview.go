package gui

import (
	"image/color"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Level filters of the log view.
var logFilters = []string{"All levels", "Info and above", "Warnings and errors"}

// logView shows the session log with its levels, copies it to the
// clipboard and saves the diagnostics bundle.
type logView struct {
	u       *UI
	grid    *widget.TextGrid
	filter  *widget.Select
	copyBtn *widget.Button
	saveBtn *widget.Button
	status  *widget.Label
	minRank int
	shown   int // lines in the grid
	content fyne.CanvasObject
}

func newLogView(u *UI) *logView {
	v := &logView{u: u}
	v.grid = widget.NewTextGrid()
	v.grid.Scroll = fyne.ScrollBoth
	v.filter = widget.NewSelect(logFilters, func(s string) {
		for i, f := range logFilters {
			if f == s {
				v.minRank = i
			}
		}
		v.rebuild()
	})
	v.filter.SetSelectedIndex(0)
	v.copyBtn = widget.NewButtonWithIcon("Copy to clipboard", theme.ContentCopyIcon(), v.copyAll)
	v.saveBtn = widget.NewButtonWithIcon("Save diagnostics…", theme.DocumentSaveIcon(), v.saveDialog)
	v.status = widget.NewLabel("")
	v.status.Importance = widget.LowImportance
	bar := container.NewHBox(v.filter, layout.NewSpacer(), v.status, v.copyBtn, v.saveBtn)
	v.content = container.NewBorder(container.NewPadded(bar), nil, nil, nil, v.grid)
	return v
}

func levelRank(level string) int {
	switch level {
	case "DEBUG":
		return 0
	case "WARN":
		return 2
	case "ERROR":
		return 3
	}
	return 1
}

func (v *logView) wanted(l logLine) bool { return levelRank(l.Level) >= v.minRank }

// add shows one new line; dropped lines fell off the front of the log.
func (v *logView) add(l logLine, dropped int) {
	if dropped > 0 {
		v.rebuild()
		return
	}
	if !v.wanted(l) {
		return
	}
	v.appendRow(l)
	v.grid.Refresh()
	v.scrollToEnd()
}

func (v *logView) appendRow(l logLine) {
	text := strings.ReplaceAll(l.display(), "\n", " ⏎ ")
	cells := make([]widget.TextGridCell, 0, len(text))
	style := levelStyle(l.Level)
	for _, r := range text {
		cells = append(cells, widget.TextGridCell{Rune: r})
	}
	v.grid.Rows = append(v.grid.Rows, widget.TextGridRow{Cells: cells, Style: style})
	v.shown++
}

// rebuild redraws every line (filter changed, or the log was trimmed).
func (v *logView) rebuild() {
	v.grid.Rows = v.grid.Rows[:0]
	v.shown = 0
	for _, l := range v.u.logCopy() {
		if v.wanted(l) {
			v.appendRow(l)
		}
	}
	v.grid.Refresh()
	v.scrollToEnd()
}

func (v *logView) scrollToEnd() {
	defer func() { _ = recover() }() // the grid has no renderer before it was first shown
	v.grid.ScrollToBottom()
}

// text is the log as the view shows it, one line each.
func (v *logView) text() string {
	var b strings.Builder
	for _, l := range v.u.logCopy() {
		if v.wanted(l) {
			b.WriteString(l.String())
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// copyAll puts the log on the clipboard, with secrets redacted.
func (v *logView) copyAll() {
	text := v.text()
	u := v.u
	v.status.SetText("Copying…")
	u.goBG(func() {
		red := u.redactor()
		out := red.apply(text)
		u.do(func() {
			u.app.Clipboard().SetContent(out)
			v.status.SetText("Copied " + formatCount(uint64(strings.Count(out, "\n"))) + " lines")
		})
	})
}

func (v *logView) saveDialog() {
	u := v.u
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			u.showError("Save diagnostics", err)
			return
		}
		if w == nil {
			return
		}
		path := w.URI().Path()
		w.Close() // SaveDiagnostics writes the file itself, with mode 0600
		v.status.SetText("Saving…")
		u.goBG(func() {
			err := u.SaveDiagnostics(path)
			u.do(func() {
				if err != nil {
					v.status.SetText("")
					u.showError("Could not save the diagnostics", err)
					return
				}
				v.status.SetText("Saved " + filepath.Base(path))
				u.logf("INFO", "", "diagnostics saved to %s (secrets redacted)", path)
			})
		})
	}, u.win)
	d.SetFileName("corridor-diagnostics-" + u.now().Format("20060102-150405") + ".zip")
	d.Show()
}

// display is a line as the log view shows it (time of day only).
func (l logLine) display() string {
	p := l.Profile
	if p != "" {
		p = "[" + p + "] "
	}
	return l.Time.Format("15:04:05.000") + " " + padLevel(l.Level) + " " + p + l.Text
}

func padLevel(l string) string { return (l + "     ")[:5] }

// themeStyle is a TextGrid style whose colour is read from the current
// theme when the grid is drawn (light and dark variants).
type themeStyle struct{ fg fyne.ThemeColorName }

func (s *themeStyle) Style() fyne.TextStyle { return fyne.TextStyle{Monospace: true} }
func (s *themeStyle) TextColor() color.Color {
	if s.fg == "" {
		return nil
	}
	return theme.Color(s.fg)
}
func (s *themeStyle) BackgroundColor() color.Color { return nil }

var (
	styleDebug = &themeStyle{fg: theme.ColorNamePlaceHolder}
	styleInfo  = &themeStyle{}
	styleWarn  = &themeStyle{fg: theme.ColorNameWarning}
	styleError = &themeStyle{fg: theme.ColorNameError}
)

func levelStyle(level string) widget.TextGridStyle {
	switch level {
	case "DEBUG":
		return styleDebug
	case "WARN":
		return styleWarn
	case "ERROR":
		return styleError
	}
	return styleInfo
}
