package gui

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/core/profile"
)

// Editor fields: the profile's JSON names (profile.ValidationError.Field)
// plus the secrets.
const (
	fieldPassword   = "password"
	fieldPSK        = "psk"
	fieldL2TPSecret = "l2tp_secret"
)

var editorFields = []string{"name", "server", "user", fieldPassword, fieldPSK, "mode", "proxy", "ike", "esp", "auth", "mtu",
	"routes", "dns", "dns_servers", "domains", "keepalive", "l2tp_port", fieldL2TPSecret, "group"}

// Choices of the editor.
var (
	authChoices   = []string{"MS-CHAPv2", "PAP", "CHAP"}
	authNames     = map[string]string{"MS-CHAPv2": "mschapv2", "PAP": "pap", "CHAP": "chap"}
	tunnelChoices = []string{"All traffic (full tunnel)", "Only the networks below (split tunnel)"}
	dnsChoices    = []string{"From the server", "Leave the system's DNS alone", "These servers"}
	dnsModes      = []string{profile.DNSFromServer, profile.DNSNone, profile.DNSCustom}
)

// proxyModeNote shows under the proxy-mode check box while it is on.
const proxyModeNote = "In proxy mode nothing on this computer is changed: programs reach the VPN through the proxy. " +
	"Routes and DNS settings do not apply."

// aggressiveWarning shows under the Aggressive Mode check box while it is
// on (RFC 2409 5: the server's first answer carries a hash of the key).
const aggressiveWarning = "Aggressive Mode is less secure: anyone who knows the group name can ask the server for a hash " +
	"of the pre-shared key and try to guess the key offline. Use it only when the server requires it."

// groupTypeChoices are how the group name travels (profile.GroupFQDN,
// profile.GroupKeyID).
var groupTypeChoices = []string{"FQDN", "Key ID"}

const legacyWarning = "Legacy algorithms (3DES, MD5, MODP1024/1536) are weak or broken. " +
	"Allow them only for an old server that cannot be upgraded, and ask its administrator to move on."

// editor edits one profile: a new one (orig ""), an existing one, or a
// duplicate. Messages of Validate show next to their fields as the user
// types; Save stays disabled until the profile is valid. Secrets are
// read from and written to the keychain through the Backend only.
type editor struct {
	u      *UI
	orig   string          // the profile's name when editing; "" for a new one
	base   profile.Profile // fields the editor does not show survive a save
	stored map[profile.SecretKind]string
	keyErr string // why the keychain could not be read

	touched map[string]bool
	showAll bool
	filling bool // programmatic SetText: not a user's edit
	loaded  chan struct{}

	name, server, user          *widget.Entry
	password, psk, l2tpSecret   *widget.Entry
	ike, esp                    *widget.Entry
	mtu, routes, dnsServers     *widget.Entry
	domains, keepalive, l2tpPrt *widget.Entry
	ipsec, legacy, classful     *widget.Check
	reconnect, useL2TPSecret    *widget.Check
	killSwitch                  *widget.Check
	ipv6                        *widget.Check // IPv6 inside the tunnel (TUN mode)
	ipv6Hint                    *widget.Label
	askPassword, proxyMode      *widget.Check
	proxy                       *widget.Entry
	proxyNote                   *widget.Label
	proxyRow                    []fyne.CanvasObject // label and field, shown in proxy mode only
	auth                        *widget.CheckGroup
	tunnel, dns                 *widget.RadioGroup
	legacyWarn, ipsecWarn       *widget.Label
	aggressive                  *widget.Check // IKE Aggressive Mode with a group name
	group                       *widget.Entry
	groupType                   *widget.RadioGroup
	aggressiveWarn              *widget.Label
	keyNote                     *widget.Label
	cert                        *certSection // certificate authentication (see below)
	errs                        map[string]*widget.Label
	title                       *widget.Label
	save, cancel                *widget.Button
	saveErr                     *widget.Label
	advanced                    *widget.Accordion
	body                        *fyne.Container
	scroll                      *container.Scroll
	content                     fyne.CanvasObject
}

// editNew opens the editor for a new profile.
func (u *UI) editNew() {
	u.leaveEditor(func() {
		p := profile.NewProfile("")
		u.openEditor(newEditor(u, "", p, false), "")
	})
}

// dirty reports whether the user changed a field since the editor opened.
func (e *editor) dirty() bool { return len(e.touched) > 0 }

// editExisting opens the editor on a saved profile.
func (u *UI) editExisting(name string) {
	u.leaveEditor(func() { u.editExistingNow(name) })
}

func (u *UI) editExistingNow(name string) {
	p, err := u.b.Profile(name)
	if err != nil {
		u.showError("Could not open "+name, err)
		return
	}
	u.openEditor(newEditor(u, name, p, true), name)
}

// editDuplicate opens the editor on a copy of a profile under a new name;
// the copy's secrets are filled in from the original's.
func (u *UI) editDuplicate(name string) {
	u.leaveEditor(func() { u.editDuplicateNow(name) })
}

func (u *UI) editDuplicateNow(name string) {
	p, err := u.b.Profile(name)
	if err != nil {
		u.showError("Could not open "+name, err)
		return
	}
	p.Name = u.freeName(name)
	p.Routes = append([]string(nil), p.Routes...)
	p.DNSServers = append([]string(nil), p.DNSServers...)
	p.Domains = append([]string(nil), p.Domains...)
	p.Auth = append([]string(nil), p.Auth...)
	e := newEditor(u, "", p, true)
	e.title.SetText("Duplicate of " + name)
	u.openEditor(e, name)
}

// freeName returns "name (2)", "name (3)"... the first unused.
func (u *UI) freeName(name string) string {
	base := strings.TrimSpace(name)
	if i := strings.LastIndex(base, " ("); i > 0 && strings.HasSuffix(base, ")") {
		if _, err := strconv.Atoi(base[i+2 : len(base)-1]); err == nil {
			base = base[:i]
		}
	}
	for n := 2; ; n++ {
		c := fmt.Sprintf("%s (%d)", base, n)
		if len(c) > profile.MaxProfileName {
			c = fmt.Sprintf("%s (%d)", base[:max(0, profile.MaxProfileName-len(fmt.Sprintf(" (%d)", n)))], n)
		}
		if !u.hasProfile(c) {
			return c
		}
	}
}

// openEditor shows e in the right pane; secretsFrom names the profile
// whose stored secrets fill the secret fields ("": none).
func (u *UI) openEditor(e *editor, secretsFrom string) {
	u.editing = e
	u.tabs.Select(u.connTab)
	u.showRight()
	e.validate()
	u.win.Canvas().Focus(e.name)
	if secretsFrom == "" {
		close(e.loaded)
	} else {
		e.loadSecrets(secretsFrom, e.orig != "")
	}
}

// closeEditor leaves the editor for the profile name ("": the selection).
func (u *UI) closeEditor(name string) {
	u.editing = nil
	if name != "" {
		u.selected = name
	}
	u.refreshAll()
}

func newEditor(u *UI, orig string, p profile.Profile, showAll bool) *editor {
	e := &editor{u: u, orig: orig, base: p, stored: map[profile.SecretKind]string{},
		touched: map[string]bool{}, showAll: showAll, loaded: make(chan struct{}),
		errs: map[string]*widget.Label{}}
	for _, f := range editorFields {
		l := widget.NewLabel("")
		l.Importance = widget.DangerImportance
		l.Wrapping = fyne.TextWrapWord
		l.SizeName = theme.SizeNameCaptionText
		l.Hide()
		e.errs[f] = l
	}
	changed := func(field string) func(string) {
		return func(string) { e.edited(field) }
	}
	entry := func(field, text, placeholder string) *widget.Entry {
		w := widget.NewEntry()
		w.SetText(text)
		w.SetPlaceHolder(placeholder)
		w.OnChanged = changed(field)
		return w
	}
	secret := func(field, placeholder string) *widget.Entry {
		w := widget.NewPasswordEntry()
		w.SetPlaceHolder(placeholder)
		w.OnChanged = changed(field)
		return w
	}

	e.title = widget.NewLabelWithStyle("New profile", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	e.title.SizeName = theme.SizeNameHeadingText
	if orig != "" {
		e.title.SetText("Edit " + orig)
	}
	e.name = entry("name", p.Name, "e.g. Office")
	e.server = entry("server", p.Server, "vpn.example.com or 203.0.113.5")
	e.user = entry("user", p.User, "your VPN user name")
	e.password = secret(fieldPassword, "kept in the keychain")
	e.askPassword = widget.NewCheck("Ask for the password at every connect", func(bool) { e.edited(fieldPassword) })
	e.askPassword.SetChecked(p.AskPassword)
	e.psk = secret(fieldPSK, "pre-shared key (shared secret), kept in the keychain")
	e.ipsec = widget.NewCheck("Use IPsec (encrypts the tunnel; leave on unless the server has no IPsec)", func(bool) { e.edited("ipsec") })
	e.ipsec.SetChecked(p.IPsec)
	e.ipsecWarn = widget.NewLabel(ipsecOffWarning)
	e.ipsecWarn.Importance = widget.WarningImportance
	e.ipsecWarn.Wrapping = fyne.TextWrapWord

	e.proxyMode = widget.NewCheck("Connect without admin rights (local proxy)", func(bool) { e.edited("mode") })
	e.proxyMode.SetChecked(p.IsProxy())
	e.proxy = entry("proxy", p.Proxy, profile.DefaultProxy)
	e.proxyNote = widget.NewLabel(proxyModeNote)
	e.proxyNote.Importance = widget.LowImportance
	e.proxyNote.Wrapping = fyne.TextWrapWord

	e.ike = entry("ike", p.IKE, "default (e.g. aes256-sha256-modp2048)")
	e.esp = entry("esp", p.ESP, "default (e.g. aes128-sha1)")
	e.legacy = widget.NewCheck("Allow legacy algorithms", func(bool) { e.edited("ike") })
	e.legacy.SetChecked(p.LegacyCrypto)
	e.legacyWarn = widget.NewLabel(legacyWarning)
	e.legacyWarn.Importance = widget.WarningImportance
	e.legacyWarn.Wrapping = fyne.TextWrapWord
	e.aggressive = widget.NewCheck("Aggressive Mode (less secure)", func(bool) { e.edited("group") })
	e.aggressive.SetChecked(p.Aggressive)
	e.aggressiveWarn = widget.NewLabel(aggressiveWarning)
	e.aggressiveWarn.Importance = widget.WarningImportance
	e.aggressiveWarn.Wrapping = fyne.TextWrapWord
	e.group = entry("group", p.Group, "group name your administrator gave")
	e.groupType = widget.NewRadioGroup(groupTypeChoices, func(string) { e.edited("group") })
	e.groupType.Horizontal = true
	e.groupType.Required = true
	e.groupType.SetSelected(groupTypeChoices[0])
	if p.GroupType == profile.GroupKeyID {
		e.groupType.SetSelected(groupTypeChoices[1])
	}

	e.auth = widget.NewCheckGroup(authChoices, func([]string) { e.edited("auth") })
	e.auth.Horizontal = true
	var sel []string
	for _, c := range authChoices {
		for _, a := range p.Auth {
			if authNames[c] == strings.ToLower(a) {
				sel = append(sel, c)
			}
		}
	}
	e.auth.SetSelected(sel)

	e.mtu = entry("mtu", intText(p.MTU), "automatic")
	e.tunnel = widget.NewRadioGroup(tunnelChoices, func(string) { e.edited("routes") })
	e.tunnel.Required = true
	if p.FullTunnel {
		e.tunnel.SetSelected(tunnelChoices[0])
	} else {
		e.tunnel.SetSelected(tunnelChoices[1])
	}
	e.routes = entry("routes", strings.Join(p.Routes, "\n"), "10.0.0.0/8\n192.168.10.0/24")
	e.routes.MultiLine = true
	e.routes.SetMinRowsVisible(3)
	e.classful = widget.NewCheck("Also route the assigned address's classful network", func(bool) { e.edited("routes") })
	e.classful.SetChecked(p.ClassfulRoute)

	e.dns = widget.NewRadioGroup(dnsChoices, func(string) { e.edited("dns") })
	e.dns.Required = true
	e.dns.SetSelected(dnsChoices[0])
	for i, m := range dnsModes {
		if p.DNS == m {
			e.dns.SetSelected(dnsChoices[i])
		}
	}
	e.dnsServers = entry("dns_servers", strings.Join(p.DNSServers, ", "), "10.0.0.53, 10.0.0.54")
	e.domains = entry("domains", strings.Join(p.Domains, ", "), "corp.example.com")
	e.killSwitch = widget.NewCheck("Block all other traffic while a dropped connection is down (kill switch)", func(bool) { e.edited("kill_switch") })
	e.killSwitch.SetChecked(p.KillSwitch)
	e.ipv6 = widget.NewCheck("Use IPv6 inside the tunnel", func(bool) { e.edited("ipv6") })
	e.ipv6.SetChecked(p.IPv6)
	e.ipv6Hint = widget.NewLabel(ipv6Hint)
	e.ipv6Hint.Wrapping = fyne.TextWrapWord
	e.ipv6Hint.SizeName = theme.SizeNameCaptionText
	e.reconnect = widget.NewCheck("Reconnect automatically after a drop", func(bool) { e.edited("reconnect") })
	e.reconnect.SetChecked(p.Reconnect)
	ka := ""
	if p.Keepalive != 0 {
		ka = p.Keepalive.String()
	}
	e.keepalive = entry("keepalive", ka, "default (5s)")
	e.l2tpPrt = entry("l2tp_port", intText(p.L2TPPort), "any free port (1701 with IPsec)")
	e.useL2TPSecret = widget.NewCheck("The server wants an L2TP tunnel secret", func(bool) { e.edited(fieldL2TPSecret) })
	e.useL2TPSecret.SetChecked(p.L2TPSecret)
	e.l2tpSecret = secret(fieldL2TPSecret, "tunnel secret, kept in the keychain (not the PSK)")

	e.keyNote = widget.NewLabel("")
	e.keyNote.Importance = widget.WarningImportance
	e.keyNote.Wrapping = fyne.TextWrapWord
	e.keyNote.Hide()

	row := func(label string, field string, w fyne.CanvasObject, extra ...fyne.CanvasObject) []fyne.CanvasObject {
		box := container.NewVBox(w)
		for _, x := range extra {
			box.Add(x)
		}
		if field != "" {
			box.Add(e.errs[field])
		}
		return []fyne.CanvasObject{widget.NewLabelWithStyle(label, fyne.TextAlignTrailing, fyne.TextStyle{}), box}
	}
	form := func(rows ...[]fyne.CanvasObject) *fyne.Container {
		c := container.New(layout.NewFormLayout())
		for _, r := range rows {
			c.Add(r[0])
			c.Add(r[1])
		}
		return c
	}
	e.proxyRow = row("Proxy address", "proxy", e.proxy)
	e.cert = newCertSection(e, p)
	basic := form(
		row("Name", "name", e.name),
		row("Server", "server", e.server),
		row("User name", "user", e.user),
		row("Password", fieldPassword, e.password, e.askPassword),
		row("IPsec", "", e.ipsec, e.ipsecWarn),
		row("Pre-shared key", fieldPSK, e.psk),
		row("Mode", "mode", e.proxyMode, e.proxyNote),
		e.proxyRow,
	)
	for _, r := range e.cert.rows(row) {
		basic.Add(r[0])
		basic.Add(r[1])
	}
	adv := form(
		row("IKE proposals", "ike", e.ike),
		row("ESP proposals", "esp", e.esp),
		row("", "", e.legacy, e.legacyWarn),
		row("", "", e.aggressive, e.aggressiveWarn),
		row("Group name", "group", e.group, e.groupType),
		row("Sign-in methods", "auth", e.auth),
		row("MTU", "mtu", e.mtu),
		row("Send through VPN", "", e.tunnel),
		row("Kill switch", "", e.killSwitch),
		row("IPv6", "", e.ipv6, e.ipv6Hint),
		row("Routes", "routes", e.routes, e.classful),
		row("DNS", "dns", e.dns),
		row("DNS servers", "dns_servers", e.dnsServers),
		row("Search domains", "domains", e.domains),
		row("Reconnect", "", e.reconnect),
		row("Keepalive", "keepalive", e.keepalive),
		row("L2TP source port", "l2tp_port", e.l2tpPrt),
		row("Tunnel secret", fieldL2TPSecret, e.useL2TPSecret, e.l2tpSecret),
	)
	e.advanced = widget.NewAccordion(widget.NewAccordionItem("Advanced", adv))

	e.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), e.doSave)
	e.save.Importance = widget.HighImportance
	e.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() { u.closeEditor(e.orig) })
	e.saveErr = widget.NewLabel("")
	e.saveErr.Importance = widget.DangerImportance
	e.saveErr.Wrapping = fyne.TextWrapWord
	e.saveErr.Hide()

	note := widget.NewLabel("Passwords and keys go to your system keychain, never to a file.")
	note.Importance = widget.LowImportance
	note.Wrapping = fyne.TextWrapWord
	buttons := container.NewHBox(layout.NewSpacer(), e.cancel, e.save)
	e.body = container.NewVBox(basic, note, e.keyNote, e.advanced)
	e.scroll = container.NewVScroll(container.NewPadded(e.body))
	e.content = container.NewBorder(container.NewPadded(e.title), container.NewPadded(container.NewVBox(e.saveErr, buttons)),
		nil, nil, e.scroll)
	e.syncEnabled()
	return e
}

func intText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// edited is every field's change handler.
func (e *editor) edited(field string) {
	if e.save == nil {
		return // still being built
	}
	if !e.filling {
		e.touched[field] = true
		if field == "ike" {
			e.touched["esp"] = true
		}
	}
	before := e.visibility()
	e.syncEnabled()
	e.validate()
	if e.visibility() != before {
		e.relayout()
	}
}

// ipv6Hint explains the IPv6 checkbox.
const ipv6Hint = "Experimental. Sets up the IPv6 addresses, routes and DNS servers the server offers. " +
	"With all traffic through the VPN, IPv6 goes through it too when the server offers a default route, and is blocked otherwise. " +
	"Some servers (SoftEther) offer only link-local addresses."

// ipsecOffWarning shows under the IPsec toggle while it is off.
const ipsecOffWarning = "Without IPsec, the password and all traffic cross the network unencrypted (PPP encryption is not negotiated): anyone on the path can read them."

// visibility is which messages and warnings show.
func (e *editor) visibility() string {
	var b strings.Builder
	for _, f := range editorFields {
		b.WriteString(strconv.FormatBool(e.errs[f].Visible()))
	}
	for _, l := range []*widget.Label{e.ipsecWarn, e.legacyWarn, e.aggressiveWarn, e.keyNote, e.saveErr, e.proxyNote} {
		b.WriteString(strconv.FormatBool(l.Visible()))
	}
	b.WriteString(strconv.FormatBool(e.advanced.Items[0].Open))
	b.WriteString(e.cert.visibility())
	return b.String()
}

// relayout lays the form out again after messages appeared or went.
func (e *editor) relayout() {
	if e.body == nil {
		return
	}
	for _, o := range e.body.Objects {
		if c, ok := o.(*fyne.Container); ok {
			c.Refresh()
		}
	}
	e.advanced.Refresh()
	e.body.Refresh()
	e.scroll.Refresh()
	if c, ok := e.content.(*fyne.Container); ok {
		c.Refresh()
	}
}

// syncEnabled enables the fields that apply.
func (e *editor) syncEnabled() {
	if e.askPassword.Checked {
		// Typed at each connect, never stored.
		e.password.Disable()
	} else {
		e.password.Enable()
	}
	on := e.ipsec.Checked
	for _, w := range []fyne.Disableable{e.psk, e.ike, e.esp, e.legacy, e.aggressive} {
		if on {
			w.Enable()
		} else {
			w.Disable()
		}
	}
	if on {
		e.ipsecWarn.Hide()
	} else {
		e.ipsecWarn.Show()
	}
	if e.legacy.Checked && on {
		e.legacyWarn.Show()
	} else {
		e.legacyWarn.Hide()
	}
	if e.aggressive.Checked && on {
		e.aggressiveWarn.Show()
		e.group.Enable()
		e.groupType.Enable()
	} else {
		e.aggressiveWarn.Hide()
		e.group.Disable()
		e.groupType.Disable()
	}
	// Proxy mode changes nothing on this computer: no route, no DNS.
	viaProxy := e.proxyMode.Checked
	for _, o := range append([]fyne.CanvasObject{e.proxyNote}, e.proxyRow...) {
		if viaProxy {
			o.Show()
		} else {
			o.Hide()
		}
	}
	for _, w := range []fyne.Disableable{e.tunnel, e.dns, e.domains} {
		if viaProxy {
			w.Disable()
		} else {
			w.Enable()
		}
	}
	split := e.tunnel.Selected == tunnelChoices[1]
	// The kill switch guards a full tunnel through a TUN device.
	if split || viaProxy {
		e.killSwitch.Disable()
	} else {
		e.killSwitch.Enable()
	}
	// The proxy's userspace network stack carries IPv4 only.
	if viaProxy {
		e.ipv6.Disable()
	} else {
		e.ipv6.Enable()
	}
	if split && !viaProxy {
		e.routes.Enable()
		e.classful.Enable()
	} else {
		e.routes.Disable()
		e.classful.Disable()
	}
	if e.dns.Selected == dnsChoices[2] && !viaProxy {
		e.dnsServers.Enable()
	} else {
		e.dnsServers.Disable()
	}
	if e.useL2TPSecret.Checked {
		e.l2tpSecret.Enable()
	} else {
		e.l2tpSecret.Disable()
	}
	e.cert.sync()
}

// splitList splits a list typed with commas, spaces or new lines.
func splitList(s string) []string {
	out := []string{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
		out = append(out, f)
	}
	return out
}

// profile builds the profile from the fields; parse holds messages for
// fields that are not even numbers or durations.
func (e *editor) profile() (profile.Profile, map[string]string) {
	parse := map[string]string{}
	p := e.base
	p.Name = strings.TrimSpace(e.name.Text)
	p.Server = strings.TrimSpace(e.server.Text)
	p.User = strings.TrimSpace(e.user.Text)
	p.IPsec = e.ipsec.Checked
	p.IKE = strings.TrimSpace(e.ike.Text)
	p.ESP = strings.TrimSpace(e.esp.Text)
	p.LegacyCrypto = e.legacy.Checked
	p.Aggressive = e.aggressive.Checked && p.IPsec // a way of starting IPsec: nothing without it
	p.Group = strings.TrimSpace(e.group.Text)
	switch {
	case e.groupType.Selected == groupTypeChoices[1]:
		p.GroupType = profile.GroupKeyID
	case e.base.GroupType == "":
		p.GroupType = "" // FQDN, the default, as the profile had it
	default:
		p.GroupType = profile.GroupFQDN
	}
	p.Auth = []string{}
	for _, a := range e.base.Auth { // keep the profile's preference order
		for _, c := range e.auth.Selected {
			if authNames[c] == strings.ToLower(a) {
				p.Auth = append(p.Auth, authNames[c])
			}
		}
	}
	for _, c := range authChoices {
		if contains(e.auth.Selected, c) && !contains(p.Auth, authNames[c]) {
			p.Auth = append(p.Auth, authNames[c])
		}
	}
	p.MTU = 0
	if t := strings.TrimSpace(e.mtu.Text); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			parse["mtu"] = "enter a number between 576 and 1500, or leave it empty for automatic"
		} else {
			p.MTU = n
		}
	}
	p.FullTunnel = e.tunnel.Selected != tunnelChoices[1]
	p.Routes = splitList(e.routes.Text)
	p.ClassfulRoute = e.classful.Checked
	p.DNS = profile.DNSFromServer
	for i, c := range dnsChoices {
		if e.dns.Selected == c {
			p.DNS = dnsModes[i]
		}
	}
	p.DNSServers = []string{}
	if p.DNS == profile.DNSCustom {
		p.DNSServers = splitList(e.dnsServers.Text)
	}
	p.Domains = splitList(e.domains.Text)
	p.Reconnect = e.reconnect.Checked
	p.Keepalive = 0
	if t := strings.TrimSpace(e.keepalive.Text); t != "" {
		if n, err := strconv.Atoi(t); err == nil {
			t = strconv.Itoa(n) + "s" // a bare number means seconds
		}
		d, err := time.ParseDuration(t)
		if err != nil {
			parse["keepalive"] = "write it like 10s or 1m, or leave it empty for the default"
		} else {
			p.Keepalive = profile.Duration(d)
		}
	}
	p.L2TPPort = 0
	if t := strings.TrimSpace(e.l2tpPrt.Text); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil {
			parse["l2tp_port"] = "enter a port number, or leave it empty for any free port"
		} else {
			p.L2TPPort = n
		}
	}
	p.L2TPSecret = e.useL2TPSecret.Checked
	p.AskPassword = e.askPassword.Checked
	p.Mode = profile.ModeTUN
	if e.proxyMode.Checked {
		p.Mode = profile.ModeProxy
	}
	p.Proxy = strings.TrimSpace(e.proxy.Text)
	if p.Proxy == "" {
		p.Proxy = profile.DefaultProxy
	}
	e.cert.apply(&p, parse)
	e.keepInapplicable(&p)
	// The kill switch only where it applies: a full tunnel in TUN mode.
	p.KillSwitch = e.killSwitch.Checked && p.FullTunnel && !p.IsProxy()
	p.IPv6 = e.ipv6.Checked && !p.IsProxy()
	return p, parse
}

// keepInapplicable gives the fields that do not apply in p's mode (the
// proxy address in TUN mode; routes and DNS in proxy mode) their saved
// values back when what they hold now is not valid: those fields are
// hidden or disabled, so a message there could not be acted on, and
// their values do not matter until the mode changes back.
func (e *editor) keepInapplicable(p *profile.Profile) {
	var ve profile.ValidationErrors
	if err := p.Validate(); !errors.As(err, &ve) {
		return
	}
	if !p.IsProxy() {
		if ve.For("proxy") != "" {
			p.Proxy = e.base.Proxy
			if proxyProblem(p.Proxy) != "" {
				p.Proxy = profile.DefaultProxy
			}
		}
		return
	}
	if ve.For("routes") != "" {
		p.FullTunnel, p.Routes, p.ClassfulRoute = e.base.FullTunnel, slices.Clone(e.base.Routes), e.base.ClassfulRoute
	}
	if ve.For("dns") != "" || ve.For("dns_servers") != "" {
		p.DNS, p.DNSServers = e.base.DNS, slices.Clone(e.base.DNSServers)
	}
	if ve.For("domains") != "" {
		p.Domains = slices.Clone(e.base.Domains)
	}
}

// proxyProblem is Validate's message for a proxy address ("" when fine).
func proxyProblem(addr string) string {
	q := profile.Profile{Mode: profile.ModeProxy, Proxy: addr}
	var ve profile.ValidationErrors
	errors.As(q.Validate(), &ve)
	return ve.For("proxy")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// problems returns every field's message ("" when fine).
func (e *editor) problems() (profile.Profile, map[string]string) {
	p, msgs := e.profile()
	var ve profile.ValidationErrors
	if err := p.Validate(); err != nil {
		errors.As(err, &ve)
	}
	for _, f := range editorFields {
		if msgs[f] == "" {
			if m := ve.For(f); m != "" {
				msgs[f] = m
			}
		}
	}
	if msgs["name"] == "" && p.Name != e.orig && e.u.hasProfile(p.Name) {
		msgs["name"] = fmt.Sprintf("a profile named %q exists already", p.Name)
	}
	if !p.AskPassword && e.password.Text == "" && e.stored[profile.SecretPassword] == "" {
		msgs[fieldPassword] = "enter the password, or have it asked for at every connect"
	}
	// A certificate profile needs no pre-shared key.
	e.cert.problems(p, msgs)
	if p.IPsec && !p.UsesCert() && !e.cert.chosen() && !p.AskPSK && e.psk.Text == "" && e.stored[profile.SecretPSK] == "" {
		msgs[fieldPSK] = "enter the pre-shared key (PSK) your administrator gave you; it is not your password"
	}
	if p.L2TPSecret && e.l2tpSecret.Text == "" && e.stored[profile.SecretL2TP] == "" {
		msgs[fieldL2TPSecret] = "enter the L2TP tunnel secret, or clear the check box"
	}
	for f, m := range msgs {
		if m == "" {
			delete(msgs, f)
		}
	}
	return p, msgs
}

// validate shows the messages next to their fields and enables Save
// only for a valid profile. It reports whether the profile is valid.
func (e *editor) validate() bool {
	_, msgs := e.problems()
	advancedBad := false
	for _, f := range editorFields {
		l := e.errs[f]
		m := msgs[f]
		if m != "" && (e.showAll || e.touched[f]) {
			l.SetText(sentence(m))
			l.Show()
			switch f {
			case "ike", "esp", "auth", "mtu", "routes", "dns", "dns_servers", "domains", "keepalive", "l2tp_port", fieldL2TPSecret, "group":
				advancedBad = true
			}
		} else if l.Visible() {
			l.Hide()
		}
	}
	if advancedBad && e.advanced != nil && !e.advanced.Items[0].Open {
		e.advanced.Open(0) // a problem there must not stay hidden
	}
	if len(msgs) == 0 {
		e.save.Enable()
	} else {
		e.save.Disable()
	}
	return len(msgs) == 0
}

// loadSecrets reads the stored secrets of profile from the keychain in
// the background. asStored: they are this profile's own (editing), so
// an unchanged field is not saved again; otherwise (duplicate) they only
// fill the fields.
func (e *editor) loadSecrets(name string, asStored bool) {
	u := e.u
	u.goBG(func() {
		defer close(e.loaded)
		got := map[profile.SecretKind]string{}
		var keyErr error
		for _, k := range profile.SecretKinds {
			v, err := u.b.Secret(name, k)
			switch {
			case err == nil:
				got[k] = v
			case errors.Is(err, profile.ErrNoSecret):
			default:
				keyErr = err
			}
		}
		u.do(func() {
			if u.editing != e {
				return
			}
			if asStored {
				e.stored = got
			}
			e.filling = true
			for k, w := range map[profile.SecretKind]*widget.Entry{profile.SecretPassword: e.password, profile.SecretPSK: e.psk, profile.SecretL2TP: e.l2tpSecret} {
				if w.Text == "" && got[k] != "" {
					w.SetText(got[k])
				}
			}
			e.filling = false
			e.cert.loaded(got, asStored)
			if keyErr != nil {
				e.keyErr = errorInfo(keyErr).Msg
				e.keyNote.SetText("Could not read the keychain: " + e.keyErr)
				e.keyNote.Show()
			}
			e.validate()
			e.relayout()
		})
	})
}

// secrets returns the secrets to store: the fields that hold a new value.
func (e *editor) secrets(p profile.Profile) map[profile.SecretKind]string {
	out := map[profile.SecretKind]string{}
	put := func(k profile.SecretKind, v string) {
		if v != "" && v != e.stored[k] {
			out[k] = v
		}
	}
	if !p.AskPassword {
		put(profile.SecretPassword, e.password.Text)
	}
	if p.IPsec && !p.AskPSK && !p.UsesCert() {
		put(profile.SecretPSK, e.psk.Text)
	}
	e.cert.secrets(p, put)
	if p.L2TPSecret {
		put(profile.SecretL2TP, e.l2tpSecret.Text)
	}
	return out
}

// doSave saves the profile (renaming it first if its name changed) and
// hands the secrets to the keychain, in the background.
func (e *editor) doSave() {
	e.showAll = true
	if !e.validate() {
		return
	}
	p, _ := e.profile()
	secrets := e.secrets(p)
	u := e.u
	e.save.Disable()
	e.saveErr.Hide()
	orig := e.orig
	u.goBG(func() {
		var err error
		renamed := false
		if orig != "" && orig != p.Name {
			err = u.b.RenameProfile(orig, p.Name)
			renamed = err == nil
		}
		if err == nil {
			err = u.b.SaveProfile(p, secrets)
		}
		u.do(func() {
			if renamed && u.startConnectName() == orig {
				u.setStartConnect(p.Name) // Settings' connect at start follows the rename
			}
			if err != nil {
				if renamed {
					// The rename went through, the save did not: go on
					// editing the profile under its new name.
					e.orig = p.Name
					e.title.SetText("Edit " + p.Name)
					u.reloadProfiles()
				}
				e.saveFailed(err)
				return
			}
			u.remember(secrets)
			if orig == "" {
				u.logf("INFO", p.Name, "profile added")
			} else {
				u.logf("INFO", p.Name, "profile saved")
			}
			u.loadProfiles()
			u.closeEditor(p.Name)
		})
	})
}

func (e *editor) saveFailed(err error) {
	var ve profile.ValidationErrors
	if errors.As(err, &ve) {
		for _, v := range ve {
			if l := e.errs[v.Field]; l != nil {
				l.SetText(sentence(v.Msg))
				l.Show()
			}
		}
	}
	info := errorInfo(err)
	text := "Could not save: " + info.Msg
	if info.Hint != "" {
		text += ". " + sentence(info.Hint)
	}
	e.saveErr.SetText(text)
	e.saveErr.Show()
	e.validate()
	e.relayout()
}

// ---- Certificate authentication (IKEv1 Main Mode with RSA signatures,
// RFC 2409 §5.1) ----
//
// The section chooses between the pre-shared key and a certificate. The
// certificate comes from files: a PEM certificate (optionally followed by
// its chain) with its PEM private key file, or a PKCS#12 file (.p12,
// .pfx) that holds both. The file password (of the .p12, or of an
// encrypted PEM key) is typed into a password entry, used once to open
// the file and never saved. The certificates go into the profile, the key
// decrypted into the keychain (SecretCertKey), like the other secrets.

// Editor fields of the section that are not profile fields.
const (
	fieldCertKey  = "cert_key"      // the private key file
	fieldCertPass = "cert_password" // the .p12 or key file's password
)

var certEditorFields = []string{"cert", fieldCertKey, fieldCertPass, "ca", "server_id"}

func init() { editorFields = append(editorFields, certEditorFields...) }

// certChoices: how IPsec proves who we are.
var certChoices = []string{"Pre-shared key", "Certificate"}

// maxCertFile bounds what is read of a certificate, key or .p12 file.
const maxCertFile = 1 << 20

type certSection struct {
	e                  *editor
	kind               *widget.RadioGroup
	certFile, keyFile  *widget.Entry
	password           *widget.Entry
	caFile, serverID   *widget.Entry
	current            *widget.Label
	certRows           [][]fyne.CanvasObject // shown with "Certificate" only
	keyPEM             string                // the key of the files chosen, for the keychain
	copiedKey          string                // a duplicated profile's key, from the original's keychain entry
	cacheKey           string
	cacheCert, cacheCA string
	cacheKeyPEM        string
	cacheErr           map[string]string
}

func newCertSection(e *editor, p profile.Profile) *certSection {
	c := &certSection{e: e}
	changed := func(field string) func(string) { return func(string) { e.edited(field) } }
	entry := func(field, placeholder string) *widget.Entry {
		w := widget.NewEntry()
		w.SetPlaceHolder(placeholder)
		w.OnChanged = changed(field)
		return w
	}
	c.kind = widget.NewRadioGroup(certChoices, func(string) { e.edited("cert") })
	c.kind.Horizontal = true
	c.kind.Required = true
	c.kind.SetSelected(certChoices[0])
	if p.Cert != "" {
		c.kind.SetSelected(certChoices[1])
	}
	c.certFile = entry("cert", "certificate file: .pem or .crt, or a .p12/.pfx that holds the key too")
	c.keyFile = entry(fieldCertKey, "the certificate's private key file (.pem)")
	c.password = widget.NewPasswordEntry()
	c.password.SetPlaceHolder("password of the .p12 file or of an encrypted key; used once, never saved")
	c.password.OnChanged = changed(fieldCertPass)
	c.caFile = entry("ca", "CA certificates (.pem) that sign the server's certificate")
	c.serverID = entry("server_id", "default: the server's name or address")
	c.serverID.SetText(p.ServerID)
	c.current = widget.NewLabel("")
	c.current.Importance = widget.LowImportance
	c.current.Wrapping = fyne.TextWrapWord
	c.describe(p)
	return c
}

// describe says which certificate and CAs the profile has now.
func (c *certSection) describe(p profile.Profile) {
	var parts []string
	if certs, err := profile.ParseCertsPEM([]byte(p.Cert)); err == nil {
		parts = append(parts, fmt.Sprintf("Current certificate: %s, valid until %s (its key is in the keychain). Choose files only to replace it.",
			certs[0].Subject.String(), certs[0].NotAfter.Format("2 Jan 2006")))
	}
	if cas, err := profile.ParseCertsPEM([]byte(p.CA)); err == nil {
		var names []string
		for _, ca := range cas {
			names = append(names, ca.Subject.CommonName)
		}
		parts = append(parts, "Trusted CAs: "+strings.Join(names, ", ")+".")
	} else if p.Cert != "" {
		parts = append(parts, "Without a CA file, the server's certificate is checked against the system's CAs.")
	}
	c.current.SetText(strings.Join(parts, " "))
	if len(parts) == 0 {
		c.current.Hide()
	}
}

// browse is a button that fills entry with a file chosen in a dialog.
func (c *certSection) browse(entry *widget.Entry) *widget.Button {
	return widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() {
		dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
			if err != nil || r == nil {
				return
			}
			entry.SetText(r.URI().Path())
			r.Close()
		}, c.e.u.win)
	})
}

// rows lays the section out with the editor's row function.
func (c *certSection) rows(row func(label, field string, w fyne.CanvasObject, extra ...fyne.CanvasObject) []fyne.CanvasObject) [][]fyne.CanvasObject {
	withBrowse := func(en *widget.Entry) fyne.CanvasObject {
		return container.NewBorder(nil, nil, nil, c.browse(en), en)
	}
	c.certRows = [][]fyne.CanvasObject{
		row("Certificate", "cert", withBrowse(c.certFile), c.current),
		row("Private key", fieldCertKey, withBrowse(c.keyFile)),
		row("File password", fieldCertPass, c.password),
		row("CA certificates", "ca", withBrowse(c.caFile)),
		row("Server identity", "server_id", c.serverID),
	}
	return append([][]fyne.CanvasObject{row("Authentication", "", c.kind)}, c.certRows...)
}

// chosen: the user picked certificate authentication.
func (c *certSection) chosen() bool { return c.e.ipsec.Checked && c.kind.Selected == certChoices[1] }

// isP12 tells a PKCS#12 file from PEM by its name or its first byte
// (DER's SEQUENCE; PEM is text).
func isP12(name string, b []byte) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".p12", ".pfx":
		return true
	}
	return len(b) > 0 && b[0] == 0x30 && !bytes.Contains(b[:min(len(b), 64)], []byte("-----"))
}

func readCertFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCertFile+1))
	if err == nil && len(b) > maxCertFile {
		err = errors.New("too large for a certificate or key file")
	}
	return b, err
}

// fileProblem words a file's read error.
func fileProblem(err error) string {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "there is no such file"
	case errors.Is(err, fs.ErrPermission):
		return "you may not read this file"
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// load reads the chosen files (remembering the result while they and the
// password stay the same): the certificate chain as PEM, the key as PEM
// for the keychain, the CAs as PEM; problems by field.
func (c *certSection) load() (certPEM, keyPEM, caPEM string, errs map[string]string) {
	certName, keyName, caName := strings.TrimSpace(c.certFile.Text), strings.TrimSpace(c.keyFile.Text), strings.TrimSpace(c.caFile.Text)
	stamp := func(n string) string {
		if n == "" {
			return ""
		}
		st, err := os.Stat(n)
		if err != nil {
			return n + "?"
		}
		return fmt.Sprintf("%s|%d|%d", n, st.Size(), st.ModTime().UnixNano())
	}
	key := strings.Join([]string{stamp(certName), stamp(keyName), stamp(caName), c.password.Text}, "\x00")
	if key == c.cacheKey {
		return c.cacheCert, c.cacheKeyPEM, c.cacheCA, c.cacheErr
	}
	errs = map[string]string{}
	if certName != "" {
		b, err := readCertFile(certName)
		switch {
		case err != nil:
			errs["cert"] = fileProblem(err)
		case isP12(certName, b):
			if c.password.Text == "" {
				errs[fieldCertPass] = "enter the password of the .p12 file (it is used once to open it, never saved)"
				break
			}
			p12, err := profile.ParsePKCS12(b, c.password.Text)
			switch {
			case errors.Is(err, profile.ErrWrongPassword):
				errs[fieldCertPass] = err.Error()
			case err != nil:
				errs["cert"] = err.Error()
			default:
				certPEM, keyPEM = profile.CertsPEM(p12.Certs), profile.KeyPEM(p12.Key)
			}
			clear(b)
		default:
			certs, err := profile.ParseCertsPEM(b)
			if err != nil {
				errs["cert"] = err.Error()
				break
			}
			certPEM = string(b)
			if keyName == "" {
				errs[fieldCertKey] = "choose the certificate's private key file (or a .p12 file that holds both)"
				break
			}
			kb, err := readCertFile(keyName)
			if err != nil {
				errs[fieldCertKey] = fileProblem(err)
				break
			}
			var k *rsa.PrivateKey
			switch {
			case profile.KeyEncrypted(kb) && c.password.Text == "":
				errs[fieldCertPass] = "the key file is encrypted: enter its password (used once, never saved)"
			case profile.KeyEncrypted(kb):
				if k, err = profile.ParseEncryptedKeyPEM(kb, c.password.Text); errors.Is(err, profile.ErrWrongPassword) {
					errs[fieldCertPass] = err.Error()
				} else if err != nil {
					errs[fieldCertKey] = err.Error()
				}
			default:
				var s crypto.Signer
				if s, err = profile.ParseKeyPEM(kb); err != nil {
					errs[fieldCertKey] = err.Error()
				} else {
					k = s.(*rsa.PrivateKey)
				}
			}
			clear(kb)
			if k == nil {
				break
			}
			if pub, ok := certs[0].PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&k.PublicKey) {
				errs[fieldCertKey] = fmt.Sprintf("this is not the key of the certificate (%s)", certs[0].Subject.String())
				break
			}
			keyPEM = profile.KeyPEM(k)
		}
	}
	if caName != "" {
		b, err := readCertFile(caName)
		if err != nil {
			errs["ca"] = fileProblem(err)
		} else if _, err := profile.ParseCertsPEM(b); err != nil {
			errs["ca"] = err.Error()
		} else {
			caPEM = string(b)
		}
	}
	c.cacheKey, c.cacheCert, c.cacheKeyPEM, c.cacheCA, c.cacheErr = key, certPEM, keyPEM, caPEM, errs
	return certPEM, keyPEM, caPEM, errs
}

// apply puts the section into p: the certificates chosen (or the
// profile's own), the CAs, the server identity; or none of them with the
// pre-shared key. Problems reading the files go to parse.
func (c *certSection) apply(p *profile.Profile, parse map[string]string) {
	c.keyPEM = ""
	if !c.chosen() {
		// The pre-shared key, or no IPsec (a certificate needs it).
		p.Cert, p.CA, p.ServerID = "", "", ""
		return
	}
	base := c.e.base
	p.Cert, p.CA, p.ServerID = base.Cert, base.CA, strings.TrimSpace(c.serverID.Text)
	certPEM, keyPEM, caPEM, errs := c.load()
	for f, m := range errs {
		parse[f] = m
	}
	if certPEM != "" && keyPEM != "" {
		p.Cert, c.keyPEM = certPEM, keyPEM
	} else if strings.TrimSpace(c.certFile.Text) == "" && p.Cert != "" {
		c.keyPEM = c.copiedKey // a duplicate keeps the original's certificate and key
	}
	if caPEM != "" {
		p.CA = caPEM
	}
}

// problems adds what a certificate profile still lacks.
func (c *certSection) problems(p profile.Profile, msgs map[string]string) {
	if !c.chosen() {
		return
	}
	switch {
	case msgs["cert"] != "" || msgs[fieldCertKey] != "" || msgs[fieldCertPass] != "":
	case strings.TrimSpace(c.certFile.Text) == "" && p.Cert == "":
		msgs["cert"] = "choose this computer's certificate: a .pem file with its private key file, or a .p12 file"
	case c.keyPEM == "" && c.e.stored[profile.SecretCertKey] == "":
		msgs[fieldCertKey] = "choose the certificate's private key file again: the keychain has none for it"
	}
}

// loaded takes the original's key when the editor duplicates a
// certificate profile (asStored false: the secrets are another
// profile's, copied to the new one when it is saved).
func (c *certSection) loaded(got map[profile.SecretKind]string, asStored bool) {
	if !asStored {
		c.copiedKey = got[profile.SecretCertKey]
	}
}

// secrets adds the key of newly chosen files.
func (c *certSection) secrets(p profile.Profile, put func(profile.SecretKind, string)) {
	if p.UsesCert() && c.keyPEM != "" {
		put(profile.SecretCertKey, c.keyPEM)
	}
}

// sync shows the certificate rows with "Certificate" only, and the key
// file only for PEM certificates.
func (c *certSection) sync() {
	ipsec := c.e.ipsec.Checked
	if ipsec {
		c.kind.Enable()
	} else {
		c.kind.Disable()
	}
	show := c.chosen()
	for _, r := range c.certRows {
		for _, o := range r {
			if show {
				o.Show()
			} else {
				o.Hide()
			}
		}
	}
	if show {
		c.e.psk.Disable()
	}
	if show && isP12(strings.TrimSpace(c.certFile.Text), nil) {
		c.keyFile.Disable()
	} else {
		c.keyFile.Enable()
	}
	if show && c.current.Text != "" {
		c.current.Show()
	} else {
		c.current.Hide()
	}
}

// visibility is which of the section's rows show (for relayout).
func (c *certSection) visibility() string {
	if c.chosen() {
		return "cert"
	}
	return "psk"
}
