package gui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// Importing a file runs core.Service.Import in this process: the file,
// the certificate's key and its password never go to the helper. A
// certificate protected by a password the file does not hold (an Apple
// PKCS#12 payload without Password, an encrypted key file named by a
// NetworkManager connection) is asked for once in a password dialog:
// typed for this import only, never saved or logged (remembered, as a
// value, only to redact it from diagnostics). A wrong password says so
// and asks again; Skip imports the profiles without the certificate, and
// their warning says how to add it in the editor.

// importData imports one file's profiles in the background.
func (u *UI) importData(filename string, data []byte) {
	u.importWith(filename, data, core.ImportOptions{})
}

// importWith imports with the user's answers so far.
func (u *UI) importWith(filename string, data []byte, opt core.ImportOptions) {
	u.goBG(func() {
		ps, err := u.b.Import(filename, data, opt)
		u.do(func() {
			var pe *core.ImportPasswordError
			if errors.As(err, &pe) {
				u.askImportPassword(filename, data, pe)
				return
			}
			u.imported(filename, ps, err)
		})
	})
}

// imported shows what an import saved, its warnings, or why it failed.
func (u *UI) imported(filename string, ps []core.ImportedProfile, err error) {
	for _, p := range ps {
		u.logf("INFO", p.Profile.Name, "imported from %s", filename)
		for _, w := range p.Warnings {
			u.logf("WARN", p.Profile.Name, "import: %s", w)
		}
	}
	u.reloadProfiles()
	if len(ps) > 0 && u.editing == nil {
		u.selectProfile(ps[0].Profile.Name)
	}
	if err != nil {
		u.logf("ERROR", "", "import of %s failed: %s", filename, errorInfo(err).Msg)
		u.showError("Could not import "+filename, err)
		return
	}
	if len(ps) == 0 {
		dialog.ShowInformation("Import", filename+" holds no L2TP/IPsec profile.", u.win)
		return
	}
	names := make([]string, len(ps))
	var warns []string
	for i, p := range ps {
		names[i] = p.Profile.Name
		for _, w := range p.Warnings {
			if len(ps) > 1 {
				w = p.Profile.Name + ": " + w
			}
			warns = append(warns, "• "+w)
		}
	}
	msg := fmt.Sprintf("Imported %s. Open Edit to check the server and to enter the password and pre-shared key if the file did not hold them.",
		strings.Join(names, ", "))
	if len(warns) > 0 {
		msg += "\n\nPlease note:\n" + strings.Join(warns, "\n")
	}
	u.importNote = msg
	d := dialog.NewCustom("Imported", "OK", wrapped(msg), u.win)
	d.Show()
}

// wrapped is a label that wraps long text (warnings name files).
func wrapped(text string) *widget.Label {
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	return l
}

// importPasswordForm is the dialog that asks for the password of one
// imported file's certificate.
type importPasswordForm struct {
	dlg   *dialog.FormDialog
	entry *widget.Entry
	text  string // what it says, for the tests
}

// askImportPassword asks for the password pe says is missing (or was
// wrong); Import tries again with it, Skip imports without the
// certificate.
func (u *UI) askImportPassword(filename string, data []byte, pe *core.ImportPasswordError) {
	// Each file asks in its own dialog (two dropped at once: two
	// dialogs); importAsk is the newest.
	certs := strings.Join(pe.Certs, ", ")
	text := fmt.Sprintf("The certificate %s in %s is protected by a password the file does not hold.\nType it to import the certificate (it is used once and not saved),\nor skip: the profile is then imported without it, and you can add it later in Edit.", certs, filename)
	if pe.Wrong {
		text = fmt.Sprintf("That password does not open the certificate %s in %s.\nType it again, or skip: the profile is then imported without the certificate,\nand you can add it later in Edit.", certs, filename)
	}
	f := &importPasswordForm{entry: widget.NewPasswordEntry(), text: text}
	f.entry.Validator = func(s string) error {
		if s == "" {
			return errors.New("enter the certificate's password")
		}
		return nil
	}
	items := []*widget.FormItem{
		widget.NewFormItem("", wrapped(text)),
		widget.NewFormItem("Password", f.entry),
	}
	f.dlg = dialog.NewForm("Certificate password", "Import", "Skip certificate", items, func(ok bool) {
		pw := f.entry.Text
		f.entry.SetText("")
		if u.importAsk == f {
			u.importAsk = nil
		}
		if !ok {
			u.logf("INFO", "", "import of %s: certificate skipped, no password given", filename)
			u.importWith(filename, data, core.ImportOptions{SkipCert: true})
			return
		}
		u.remember(map[profile.SecretKind]string{profile.SecretCertKey: pw})
		u.importWith(filename, data, core.ImportOptions{Password: pw})
	}, u.win)
	u.importAsk = f
	u.win.Show()
	f.dlg.Show()
	u.win.Canvas().Focus(f.entry)
}
