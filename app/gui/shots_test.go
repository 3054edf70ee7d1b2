package gui

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"

	"github.com/corridorvpn/corridor/app/gui/guitest"
	"github.com/corridorvpn/corridor/core"
)

// TestScreenshots renders the main views to PNG files with Fyne's
// software painter, for looking at the layout without a display:
//
//	CORRIDOR_GUI_SHOTS=/tmp/shots [CORRIDOR_GUI_SHOTS_DARK=1] go test -run Screenshots ./app/gui/
//
// (The test painter's clipping of entries inside a scrolled container
// is not exact; the real driver's is.)
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("CORRIDOR_GUI_SHOTS")
	if dir == "" {
		t.Skip("set CORRIDOR_GUI_SHOTS to a directory to write screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := func(w fyne.Window, name string) {
		f, err := os.Create(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, w.Canvas().Capture()); err != nil {
			t.Fatal(err)
		}
	}
	dark := os.Getenv("CORRIDOR_GUI_SHOTS_DARK") != ""

	h := newHarness(t, newBackendWith("office", "home"))
	if dark {
		h.a.Settings().SetTheme(theme.DarkTheme())
	}
	h.w.Resize(fyne.NewSize(960, 640))
	h.start()
	h.u.selectProfile("office")
	shot(h.w, "1-idle")
	h.state(core.Status{Profile: "office", State: core.StateL2TPTunnel, Detail: "L2TP: SCCRQ sent"})
	shot(h.w, "2-connecting")
	since := time.Now().Add(-75 * time.Second)
	up := core.Status{Profile: "office", State: core.StateConnected, Connected: since, Server: "203.0.113.5",
		Address: "192.168.30.10", Peer: "192.168.30.1", DNS: []string{"192.168.30.1"}, Interface: "corridor0", MTU: 1400,
		IKE: "AES-CBC-256/HMAC-SHA2-256/MODP2048", ESP: "AES-CBC-128/HMAC-SHA1-96"}
	h.state(up)
	for i := 0; i < 120; i++ {
		st := up
		st.Stats = core.Stats{RxBytes: uint64(i) * 150000, TxBytes: uint64(i) * 20000, RxPackets: uint64(i) * 110, TxPackets: uint64(i) * 40,
			RxRate: float64(50000 + (i%20)*8000), TxRate: float64(8000 + (i%7)*1000)}
		h.send(core.Event{Kind: core.EventStats, Status: st})
	}
	shot(h.w, "3-connected")
	h.state(core.Status{Profile: "office", State: core.StateFailed, Error: &core.ErrorInfo{
		Msg:  "the server stopped answering once we proved the pre-shared key: the pre-shared key is probably wrong",
		Hint: "check the pre-shared key (PSK, \"shared secret\") with your administrator; it is not your password"}})
	shot(h.w, "4-failed")
	h.u.editExisting("office")
	<-h.u.editing.loaded
	h.settle()
	e := h.u.editing
	e.server.SetText("https://vpn.example.com")
	shot(h.w, "5-editor")
	e.mtu.SetText("9000")
	e.legacy.SetChecked(true)
	e.tunnel.SetSelected(tunnelChoices[1])
	e.scroll.Offset = fyne.NewPos(0, 300)
	e.scroll.Refresh()
	shot(h.w, "6-editor-advanced")
	e.tunnel.SetSelected(tunnelChoices[0])
	e.proxyMode.SetChecked(true)
	e.proxy.SetText("0.0.0.0:1080")
	e.scroll.Offset = fyne.NewPos(0, 0)
	e.scroll.Refresh()
	shot(h.w, "6b-editor-proxy")
	h.u.closeEditor("office")
	h.state(core.Status{Profile: "home", State: core.StateConnected, Connected: since, Server: "203.0.113.5",
		Address: "192.168.30.11", DNS: []string{"192.168.30.1"}, MTU: 1400, Proxy: "127.0.0.1:1080",
		IKE: "AES-CBC-256/HMAC-SHA2-256/MODP2048", ESP: "AES-CBC-128/HMAC-SHA1-96"})
	h.u.selectProfile("home")
	shot(h.w, "6c-connected-proxy")
	h.u.selectProfile("office")
	h.u.ShowLog()
	shot(h.w, "7-log")
	h.u.SetAutostart(&XDGAutostart{Path: filepath.Join(t.TempDir(), "corridor.desktop"), Command: []string{"corridor", "gui", "--hidden"}})
	h.u.settings.connect.SetSelected("office")
	h.u.ShowSettings()
	shot(h.w, "7b-settings")

	b := guitest.New()
	b.SetPingError(guitest.HelperDown())
	h2 := newHarness(t, b)
	if dark {
		h2.a.Settings().SetTheme(theme.DarkTheme())
	}
	h2.w.Resize(fyne.NewSize(960, 640))
	h2.u.getenv = func(k string) string {
		if k == EnvDemoServer {
			return "10.99.0.1"
		}
		return ""
	}
	h2.startNoWait()
	h2.waitCounter("ping", &h2.u.pings, 1)
	h2.u.refreshAll()
	shot(h2.w, "8-welcome-helper-down")
}
