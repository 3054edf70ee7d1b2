package gui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/corridorvpn/corridor/core"
	"github.com/corridorvpn/corridor/core/profile"
)

// stages are the steps a connect shows (core.ConnectStates without the
// final "connected").
var stages = core.ConnectStates[:len(core.ConnectStates)-1]

// detailView shows the selected profile: its state, the Connect or
// Disconnect action, and the view of the state (summary, progress,
// connected session, or problem).
type detailView struct {
	u    *UI
	name string

	title      *widget.Label
	sub        *widget.Label
	stateIcon  *widget.Icon
	stateLabel *widget.Label
	action     *widget.Button
	edit       *widget.Button
	dup        *widget.Button
	export     *widget.Button
	del        *widget.Button

	body    *fyne.Container
	actions *fyne.Container
	scroll  *container.Scroll
	idle    *idleView
	prog    *progressView
	conn    *connectedView
	prob    *problemView

	content fyne.CanvasObject
}

func newDetailView(u *UI) *detailView {
	d := &detailView{u: u}
	d.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.title.SizeName = theme.SizeNameHeadingText
	d.title.Truncation = fyne.TextTruncateEllipsis
	d.sub = widget.NewLabel("")
	d.sub.Truncation = fyne.TextTruncateEllipsis
	d.stateIcon = widget.NewIcon(stateIcon(core.StateIdle))
	d.stateLabel = widget.NewLabel("")
	d.action = widget.NewButton("Connect", d.doAction)
	d.edit = widget.NewButtonWithIcon("Edit", theme.DocumentCreateIcon(), func() { u.editExisting(d.name) })
	d.dup = widget.NewButtonWithIcon("Duplicate", theme.ContentCopyIcon(), func() { u.editDuplicate(d.name) })
	d.export = widget.NewButtonWithIcon("Export…", theme.DocumentSaveIcon(), func() { u.exportDialog(d.name) })
	d.del = widget.NewButtonWithIcon("Delete", theme.DeleteIcon(), func() { u.confirmDelete(d.name) })

	d.idle = newIdleView()
	d.prog = newProgressView(u, d)
	d.conn = newConnectedView(u)
	d.prob = newProblemView(u, d)
	d.body = container.NewStack(d.idle.content, d.prog.content, d.conn.content, d.prob.content)

	state := container.NewHBox(d.stateIcon, d.stateLabel)
	d.actions = container.NewHBox(d.action, layout.NewSpacer(), d.edit, d.dup, d.export, d.del)
	header := container.NewVBox(container.NewBorder(nil, nil, nil, state, d.title), d.sub, d.actions, widget.NewSeparator())
	d.scroll = container.NewVScroll(container.NewPadded(d.body))
	d.content = container.NewBorder(container.NewPadded(header), nil, nil, nil, d.scroll)
	return d
}

// show switches the view to a profile.
func (d *detailView) show(name string) {
	if d.name != name {
		d.name = name
		d.conn.graph.Reset()
	}
	d.update(true)
}

// update redraws from the model.
func (d *detailView) update(stateChanged bool) {
	p, ok := d.u.profileByName(d.name)
	if !ok {
		return
	}
	st := d.u.status(d.name)
	d.title.SetText(p.Name)
	sub := p.Server
	if p.User != "" {
		sub = p.User + " @ " + p.Server
	}
	if !p.IPsec {
		sub += " (L2TP without IPsec)"
	}
	d.sub.SetText(sub)
	d.stateIcon.SetResource(stateIcon(st.State))
	d.stateLabel.SetText(stateSentence(st))

	wasShown := d.action.Visible()
	d.action.Show()
	d.action.Enable()
	switch {
	case st.State == core.StateConnected:
		d.action.SetText("Disconnect")
		d.action.SetIcon(theme.MediaStopIcon())
		d.action.Importance = widget.MediumImportance
	case st.State == core.StateDisconnecting:
		d.action.SetText("Disconnecting…")
		d.action.SetIcon(theme.MediaStopIcon())
		d.action.Disable()
	case st.State.Connecting() || st.State == core.StateReconnecting:
		d.action.Hide() // Cancel is in the progress or problem view
	default:
		d.action.SetText("Connect")
		d.action.SetIcon(theme.MediaPlayIcon())
		d.action.Importance = widget.HighImportance
		if d.u.helperDown() != nil && !p.IsProxy() {
			d.action.Disable() // a proxy-mode profile runs in the user's own runner, helper or not
		}
	}
	d.action.Refresh()
	if wasShown != d.action.Visible() {
		d.actions.Refresh()
	}

	var shown fyne.CanvasObject
	switch {
	case st.State.Connecting():
		d.prog.update(p, st)
		shown = d.prog.content
	case st.State == core.StateConnected:
		d.conn.update(st, d.u)
		shown = d.conn.content
	case st.State == core.StateFailed || st.State == core.StateReconnecting:
		d.prob.update(st)
		shown = d.prob.content
	default:
		d.idle.update(p, st)
		shown = d.idle.content
	}
	if stateChanged {
		for _, o := range d.body.Objects {
			if o == shown {
				o.Show()
			} else {
				o.Hide()
			}
		}
		d.body.Refresh()
		d.scroll.Refresh()
	}
}

// tick refreshes the clocks.
func (d *detailView) tick() {
	st := d.u.status(d.name)
	switch {
	case st.State.Connecting():
		d.prog.tick(d.u.connectStart(d.name))
	case st.State == core.StateConnected:
		d.conn.tick(st, d.u)
	case st.State == core.StateReconnecting:
		d.prob.update(st)
	}
}

func (d *detailView) doAction() {
	st := d.u.status(d.name)
	switch {
	case st.State == core.StateConnected:
		d.u.disconnect(d.name)
	case st.State == core.StateIdle || st.State == core.StateFailed:
		d.u.connect(d.name)
	}
}

// stateSentence is the state line under the profile's name.
func stateSentence(st core.Status) string {
	switch {
	case st.State == core.StateConnected:
		return "Connected"
	case st.State.Connecting():
		return "Connecting: " + st.State.Words()
	case st.State == core.StateReconnecting:
		return "Reconnecting"
	case st.State == core.StateFailed:
		return "Failed"
	case st.State == core.StateDisconnecting:
		return "Disconnecting"
	}
	return "Not connected"
}

// ---- idle ----

type idleView struct {
	form    *fyne.Container
	values  map[string]*widget.Label
	content fyne.CanvasObject
}

var idleFields = []string{"Server", "User", "Encryption", "Traffic", "DNS", "Reconnect"}

func newIdleView() *idleView {
	v := &idleView{values: map[string]*widget.Label{}}
	v.form = container.New(layout.NewFormLayout())
	for _, f := range idleFields {
		val := widget.NewLabel("")
		val.Wrapping = fyne.TextWrapWord
		v.values[f] = val
		v.form.Add(widget.NewLabelWithStyle(f, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}))
		v.form.Add(val)
	}
	v.content = v.form
	return v
}

func (v *idleView) update(p profile.Profile, _ core.Status) {
	v.values["Server"].SetText(p.Server)
	v.values["User"].SetText(p.User)
	enc := "IPsec with a pre-shared key"
	switch {
	case !p.IPsec:
		enc = "none: plain L2TP, traffic is not encrypted by the VPN"
	case p.LegacyCrypto:
		enc += " (legacy algorithms allowed)"
	}
	if p.IPsec && p.Aggressive {
		enc += "; Aggressive Mode as group \"" + p.Group + "\" (less secure)"
	}
	if p.IPsec && (p.IKE != "" || p.ESP != "") {
		enc += "; proposals " + strings.Trim(p.IKE+" / "+p.ESP, " /")
	}
	v.values["Encryption"].SetText(enc)
	traffic := "all traffic through the VPN"
	switch {
	case p.IsProxy():
		traffic = "only programs set to use the local proxy on " + p.ProxyAddr() + " (SOCKS5 and HTTP); connects without admin rights"
	case !p.FullTunnel:
		routes := append([]string(nil), p.Routes...)
		if p.ClassfulRoute {
			routes = append(routes, "the assigned address's network")
		}
		traffic = "only " + strings.Join(routes, ", ")
	}
	if p.IPv6 && !p.IsProxy() {
		traffic += "; IPv6 inside the tunnel (experimental)"
	}
	v.values["Traffic"].SetText(traffic)
	dns := "from the server"
	switch p.DNS {
	case profile.DNSNone:
		dns = "unchanged"
	case profile.DNSCustom:
		dns = strings.Join(p.DNSServers, ", ")
	}
	if len(p.Domains) > 0 {
		dns += "; search " + strings.Join(p.Domains, ", ")
	}
	if p.IsProxy() {
		dns = "unchanged on this computer; the proxy looks names up with the VPN's DNS servers"
	}
	v.values["DNS"].SetText(dns)
	if p.Reconnect {
		v.values["Reconnect"].SetText("yes, after a drop")
	} else {
		v.values["Reconnect"].SetText("no")
	}
}

// ---- progress ----

// progressView lists the stages of a connect with the current one
// highlighted, the elapsed time and a Cancel button.
type progressView struct {
	u       *UI
	d       *detailView
	title   *widget.Label
	icons   []*widget.Icon
	labels  []*widget.Label
	elapsed *widget.Label
	detail  *widget.Label
	cancel  *widget.Button
	current int // index in stages, -1 none
	content fyne.CanvasObject
}

func newProgressView(u *UI, d *detailView) *progressView {
	v := &progressView{u: u, d: d, current: -1}
	v.title = widget.NewLabelWithStyle("Connecting…", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	rows := container.NewVBox()
	for _, s := range stages {
		icon := widget.NewIcon(theme.NewDisabledResource(theme.RadioButtonIcon()))
		label := widget.NewLabel(sentence(s.Words()))
		v.icons = append(v.icons, icon)
		v.labels = append(v.labels, label)
		rows.Add(container.NewHBox(icon, label))
	}
	v.elapsed = widget.NewLabel("")
	v.detail = widget.NewLabel("")
	v.detail.Wrapping = fyne.TextWrapWord
	v.detail.Importance = widget.LowImportance
	v.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() { u.disconnect(d.name) })
	v.content = container.NewVBox(v.title, rows, v.elapsed, v.detail, container.NewHBox(v.cancel))
	return v
}

func (v *progressView) update(p profile.Profile, st core.Status) {
	title := "Connecting to " + p.Name + "…"
	if st.Attempt > 0 {
		title = fmt.Sprintf("Reconnecting to %s (attempt %d)…", p.Name, st.Attempt)
	}
	v.title.SetText(title)
	v.current = -1
	for i, s := range stages {
		if s == st.State {
			v.current = i
		}
	}
	for i, s := range stages {
		label, icon := v.labels[i], v.icons[i]
		text := sentence(s.Words())
		skipped := !p.IPsec && (s == core.StateIKEPhase1 || s == core.StateIKEPhase2)
		bold := false
		switch {
		case skipped:
			text = strings.TrimSuffix(text, ".") + " (not used: IPsec is off)"
			label.Importance = widget.LowImportance
			icon.SetResource(theme.NewDisabledResource(theme.RadioButtonIcon()))
		case i < v.current:
			label.Importance = widget.MediumImportance
			icon.SetResource(theme.NewSuccessThemedResource(theme.ConfirmIcon()))
		case i == v.current:
			label.Importance = widget.HighImportance
			bold = true
			icon.SetResource(theme.NewPrimaryThemedResource(theme.NavigateNextIcon()))
		default:
			label.Importance = widget.LowImportance
			icon.SetResource(theme.NewDisabledResource(theme.RadioButtonIcon()))
		}
		label.TextStyle = fyne.TextStyle{Bold: bold}
		label.Text = text
		label.Refresh()
	}
	detail := st.Detail
	if detail == pendingDetail {
		detail = "Asking the Corridor helper to connect"
	}
	v.detail.SetText(sentence(detail))
	v.tick(v.u.connectStart(p.Name))
}

func (v *progressView) tick(started time.Time) {
	if started.IsZero() {
		v.elapsed.SetText("")
		return
	}
	v.elapsed.SetText("Elapsed " + elapsed(v.u.now().Sub(started)))
}

// ---- connected ----

// connectedView shows a live session: addresses, suites, counters and
// the traffic graph; for a proxy-mode session also where its proxy
// listens and how programs use it.
type connectedView struct {
	u         *UI
	values    map[string]*widget.Label
	proxy     string // the shown session's proxy address, "" for none
	proxyLine *widget.Label
	proxyCopy *widget.Button
	proxyHow  *widget.Label
	proxyBox  *fyne.Container
	dnsNote   *widget.Label // why the DNS is not in use; hidden while it is
	graph     *TrafficGraph
	legend    *widget.Label
	box       *fyne.Container
	content   fyne.CanvasObject
}

// The connected view's fields, in two columns.
var (
	connectedLeft  = []string{"Server", "Address", "DNS", "Interface", "Connected for"}
	connectedRight = []string{"IKE", "ESP", "Received", "Sent"}
)

func newConnectedView(u *UI) *connectedView {
	v := &connectedView{u: u, values: map[string]*widget.Label{}}
	form := func(fields []string) *fyne.Container {
		c := container.New(layout.NewFormLayout())
		for _, f := range fields {
			val := widget.NewLabel("")
			val.Selectable = true
			val.Truncation = fyne.TextTruncateEllipsis
			v.values[f] = val
			c.Add(widget.NewLabelWithStyle(f, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}))
			c.Add(val)
		}
		return c
	}
	v.proxyLine = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.proxyLine.Selectable = true
	v.proxyCopy = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), v.copyProxy)
	v.proxyHow = widget.NewLabel("")
	v.proxyHow.Wrapping = fyne.TextWrapWord
	v.proxyHow.Selectable = true
	v.proxyBox = container.NewVBox(widget.NewSeparator(), container.NewHBox(v.proxyLine, v.proxyCopy), v.proxyHow)
	v.proxyBox.Hide()
	v.dnsNote = widget.NewLabel("")
	v.dnsNote.Wrapping = fyne.TextWrapWord
	v.dnsNote.Selectable = true
	v.dnsNote.Importance = widget.WarningImportance
	v.dnsNote.Hide()
	v.graph = NewTrafficGraph(graphSamples)
	v.legend = widget.NewLabel("")
	v.legend.SizeName = theme.SizeNameCaptionText
	v.box = container.NewVBox(container.NewGridWithColumns(2, form(connectedLeft), form(connectedRight)), v.dnsNote, v.proxyBox, widget.NewSeparator(),
		widget.NewLabelWithStyle("Traffic, last 5 minutes", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		v.graph, v.legend)
	v.content = v.box
	return v
}

// proxyHowTo tells how programs use a proxy-mode session's proxy on addr.
func proxyHowTo(addr string) string {
	return fmt.Sprintf("Set your system's or browser's proxy to SOCKS5 %s (or HTTP %s). "+
		"In a terminal: ALL_PROXY=socks5h://%s or https_proxy=http://%s. "+
		"Names are looked up through the VPN.", addr, addr, addr, addr)
}

// copyProxy puts the proxy's address on the clipboard.
func (v *connectedView) copyProxy() {
	if v.proxy != "" {
		v.u.app.Clipboard().SetContent(v.proxy)
	}
}

// showProxy shows the proxy of a proxy-mode session (addr "": none).
func (v *connectedView) showProxy(addr string) {
	had := v.proxyBox.Visible()
	v.proxy = addr
	if addr != "" {
		v.proxyLine.SetText("Proxy: socks5 and http on " + addr)
		v.proxyHow.SetText(proxyHowTo(addr))
		v.proxyBox.Show()
	} else {
		v.proxyBox.Hide()
	}
	if had != v.proxyBox.Visible() {
		v.box.Refresh()
	}
}

func (v *connectedView) update(st core.Status, u *UI) {
	server := st.Server
	if server == "" {
		if p, ok := u.profileByName(st.Profile); ok {
			server = p.Server
		}
	}
	v.values["Server"].SetText(server)
	addr := st.Address
	if st.Peer != "" {
		addr += " (peer " + st.Peer + ")"
	}
	if len(st.IPv6) > 0 {
		addr += "; IPv6 " + strings.Join(st.IPv6, ", ")
	}
	v.values["Address"].SetText(addr)
	dns := strings.Join(st.DNS, ", ")
	if dns == "" {
		dns = "unchanged"
	}
	if st.DNSNote != "" {
		dns += " (not in use)"
	}
	v.values["DNS"].SetText(dns)
	if st.DNSNote != "" {
		v.dnsNote.SetText(st.DNSNote)
		v.dnsNote.Show()
	} else {
		v.dnsNote.Hide()
	}
	ike := st.IKE
	if ike == "" {
		ike = "not used"
	}
	esp := st.ESP
	if esp == "" {
		esp = "not used"
	}
	v.values["IKE"].SetText(ike)
	v.values["ESP"].SetText(esp)
	iface := st.Interface
	if st.Proxy != "" && iface == "" {
		iface = "no TUN device" // the proxy line below says where it listens
	}
	if st.MTU > 0 {
		iface += fmt.Sprintf(" (MTU %d)", st.MTU)
	}
	v.values["Interface"].SetText(strings.TrimSpace(iface))
	v.showProxy(st.Proxy)
	s := st.Stats
	v.values["Received"].SetText(fmt.Sprintf("%s · %s (%s packets)", formatBytes(s.RxBytes), formatRate(s.RxRate), formatCount(s.RxPackets)) +
		ipv6Part(s.RxBytes6, s.RxPackets6))
	v.values["Sent"].SetText(fmt.Sprintf("%s · %s (%s packets)", formatBytes(s.TxBytes), formatRate(s.TxRate), formatCount(s.TxPackets)) +
		ipv6Part(s.TxBytes6, s.TxPackets6))
	rx, tx := u.rates(st.Profile)
	v.graph.SetSamples(rx, tx)
	v.legend.SetText(fmt.Sprintf("In (received): %s now · Out (sent): %s now · peak %s", formatRate(s.RxRate), formatRate(s.TxRate), formatRate(v.graph.Peak())))
	v.tick(st, u)
}

func (v *connectedView) tick(st core.Status, u *UI) {
	since := st.Connected
	if since.IsZero() {
		since = st.Since
	}
	if since.IsZero() {
		v.values["Connected for"].SetText("")
		return
	}
	v.values["Connected for"].SetText(elapsed(u.now().Sub(since)) + " (since " + since.Local().Format("15:04:05") + ")")
}

// ---- problem ----

// problemView shows a failure or a dropped connection in the core's
// plain words, with "Show details" opening the log.
type problemView struct {
	u       *UI
	d       *detailView
	title   *widget.Label
	msg     *widget.Label
	hint    *widget.Label
	details *widget.Button
	again   *widget.Button
	box     *fyne.Container
	content fyne.CanvasObject
}

func newProblemView(u *UI, d *detailView) *problemView {
	v := &problemView{u: u, d: d}
	v.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.title.Importance = widget.DangerImportance
	v.title.Wrapping = fyne.TextWrapWord
	v.msg = widget.NewLabel("")
	v.msg.Wrapping = fyne.TextWrapWord
	v.msg.Selectable = true
	v.hint = widget.NewLabel("")
	v.hint.Wrapping = fyne.TextWrapWord
	v.hint.Selectable = true
	v.details = widget.NewButtonWithIcon("Show details", theme.ListIcon(), u.ShowLog)
	v.again = widget.NewButton("Try again", v.doAgain)
	icon := widget.NewIcon(theme.NewErrorThemedResource(theme.ErrorIcon()))
	v.box = container.NewVBox(container.NewBorder(nil, nil, icon, nil, v.title), v.msg, v.hint,
		container.NewHBox(v.again, v.details))
	v.content = v.box
	return v
}

func (v *problemView) update(st core.Status) {
	msg, hint := "", ""
	if st.Error != nil {
		msg, hint = st.Error.Msg, hintFor(st.Error)
	}
	if st.State == core.StateReconnecting {
		title := "Connection lost: reconnecting"
		if !st.NextTry.IsZero() {
			if d := st.NextTry.Sub(v.u.now()); d > 0 {
				title += fmt.Sprintf(" in %d s", int((d+999*time.Millisecond)/time.Second))
			}
		}
		if st.Attempt > 0 {
			title += fmt.Sprintf(" (attempt %d)", st.Attempt)
		}
		v.title.SetText(title)
		v.again.SetText("Cancel")
		v.again.SetIcon(theme.CancelIcon())
	} else {
		v.title.SetText("Could not connect")
		if !st.Connected.IsZero() {
			v.title.SetText("The connection ended")
		}
		v.again.SetText("Try again")
		v.again.SetIcon(theme.ViewRefreshIcon())
	}
	if msg == "" {
		msg = "No reason was given."
	}
	v.msg.SetText(sentence(msg))
	had := v.hint.Visible()
	if hint != "" {
		v.hint.SetText("What to try: " + sentence(hint))
		v.hint.Show()
	} else {
		v.hint.Hide()
	}
	if had != v.hint.Visible() {
		v.box.Refresh()
	}
}

func (v *problemView) doAgain() {
	if v.u.status(v.d.name).State == core.StateReconnecting {
		v.u.disconnect(v.d.name)
		return
	}
	v.u.connect(v.d.name)
}
