package gui

import (
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// TrafficGraph draws the last rate samples of a session, received (in)
// and sent (out) bytes per second, newest at the right edge. Its colours
// come from the current theme (primary for in, success for out), so it
// follows light and dark variants.
type TrafficGraph struct {
	widget.BaseWidget

	capacity int
	rx, tx   []float64
}

// NewTrafficGraph returns an empty graph keeping up to capacity samples.
func NewTrafficGraph(capacity int) *TrafficGraph {
	if capacity < 2 {
		capacity = 2
	}
	g := &TrafficGraph{capacity: capacity}
	g.ExtendBaseWidget(g)
	return g
}

// Add appends one sample (bytes per second in and out).
func (g *TrafficGraph) Add(rx, tx float64) {
	g.rx = append(g.rx, clampRate(rx))
	g.tx = append(g.tx, clampRate(tx))
	g.trim()
	g.Refresh()
}

// SetSamples replaces the samples (oldest first).
func (g *TrafficGraph) SetSamples(rx, tx []float64) {
	n := min(len(rx), len(tx))
	g.rx, g.tx = g.rx[:0], g.tx[:0]
	for i := 0; i < n; i++ {
		g.rx = append(g.rx, clampRate(rx[i]))
		g.tx = append(g.tx, clampRate(tx[i]))
	}
	g.trim()
	g.Refresh()
}

// Reset drops every sample.
func (g *TrafficGraph) Reset() { g.SetSamples(nil, nil) }

// Samples returns copies of the samples, oldest first.
func (g *TrafficGraph) Samples() (rx, tx []float64) {
	return append([]float64(nil), g.rx...), append([]float64(nil), g.tx...)
}

// Peak is the largest sample in either direction.
func (g *TrafficGraph) Peak() float64 {
	p := 0.0
	for i := range g.rx {
		p = max(p, g.rx[i], g.tx[i])
	}
	return p
}

// Scale is the rate at the top of the graph: the peak rounded up to 1, 2
// or 5 times a power of ten, at least 1 kB/s.
func (g *TrafficGraph) Scale() float64 { return niceCeil(max(g.Peak(), 1000)) }

func (g *TrafficGraph) trim() {
	if n := len(g.rx) - g.capacity; n > 0 {
		g.rx = append(g.rx[:0], g.rx[n:]...)
		g.tx = append(g.tx[:0], g.tx[n:]...)
	}
}

func clampRate(r float64) float64 {
	if r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
		return 0
	}
	return r
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// CreateRenderer implements fyne.Widget.
func (g *TrafficGraph) CreateRenderer() fyne.WidgetRenderer {
	r := &graphRenderer{g: g, bg: canvas.NewRectangle(nil)}
	for i := range r.grid {
		r.grid[i] = canvas.NewLine(nil)
		r.grid[i].StrokeWidth = 1
	}
	r.scale = canvas.NewText("", nil)
	r.scale.TextSize = theme.CaptionTextSize()
	r.inLabel = canvas.NewText("in", nil)
	r.inLabel.TextSize = theme.CaptionTextSize()
	r.inLabel.TextStyle.Bold = true
	r.outLabel = canvas.NewText("out", nil)
	r.outLabel.TextSize = theme.CaptionTextSize()
	r.outLabel.TextStyle.Bold = true
	r.Refresh()
	return r
}

type graphRenderer struct {
	g                        *TrafficGraph
	bg                       *canvas.Rectangle
	grid                     [3]*canvas.Line
	rxLines, txLines         []*canvas.Line
	scale, inLabel, outLabel *canvas.Text
	objects                  []fyne.CanvasObject
}

func (r *graphRenderer) MinSize() fyne.Size { return fyne.NewSize(240, 120) }

func (r *graphRenderer) Objects() []fyne.CanvasObject { return r.objects }

func (r *graphRenderer) Destroy() {}

func (r *graphRenderer) Refresh() {
	v := fyne.CurrentApp().Settings().ThemeVariant()
	th := r.g.Theme()
	in, out := th.Color(theme.ColorNamePrimary, v), th.Color(theme.ColorNameSuccess, v)
	r.bg.FillColor = th.Color(theme.ColorNameInputBackground, v)
	r.bg.StrokeColor = th.Color(theme.ColorNameSeparator, v)
	r.bg.StrokeWidth = 1
	for _, l := range r.grid {
		l.StrokeColor = th.Color(theme.ColorNameSeparator, v)
	}
	r.scale.Color = th.Color(theme.ColorNamePlaceHolder, v)
	r.scale.Text = formatRate(r.g.Scale())
	r.inLabel.Color, r.outLabel.Color = in, out

	segs := max(len(r.g.rx)-1, 0)
	for len(r.rxLines) < segs {
		r.rxLines = append(r.rxLines, canvas.NewLine(nil))
		r.txLines = append(r.txLines, canvas.NewLine(nil))
	}
	r.rxLines, r.txLines = r.rxLines[:segs], r.txLines[:segs]
	for i := range r.rxLines {
		r.rxLines[i].StrokeColor, r.rxLines[i].StrokeWidth = in, 2
		r.txLines[i].StrokeColor, r.txLines[i].StrokeWidth = out, 2
	}
	r.objects = r.objects[:0]
	r.objects = append(r.objects, r.bg, r.grid[0], r.grid[1], r.grid[2])
	for _, l := range r.txLines {
		r.objects = append(r.objects, l)
	}
	for _, l := range r.rxLines {
		r.objects = append(r.objects, l)
	}
	r.objects = append(r.objects, r.scale, r.inLabel, r.outLabel)
	r.Layout(r.g.Size())
	canvas.Refresh(r.g)
}

func (r *graphRenderer) Layout(size fyne.Size) {
	r.bg.Resize(size)
	r.bg.Move(fyne.NewPos(0, 0))
	for i, l := range r.grid {
		y := size.Height * float32(i+1) / 4
		l.Position1 = fyne.NewPos(0, y)
		l.Position2 = fyne.NewPos(size.Width, y)
	}
	pad := theme.Padding()
	r.scale.Move(fyne.NewPos(pad, pad/2))
	r.scale.Resize(r.scale.MinSize())
	ow := r.outLabel.MinSize().Width
	iw := r.inLabel.MinSize().Width
	r.outLabel.Move(fyne.NewPos(size.Width-pad-ow, pad/2))
	r.outLabel.Resize(r.outLabel.MinSize())
	r.inLabel.Move(fyne.NewPos(size.Width-2*pad-ow-iw, pad/2))
	r.inLabel.Resize(r.inLabel.MinSize())

	n := len(r.g.rx)
	if n < 2 {
		return
	}
	scale := float32(r.g.Scale())
	step := size.Width / float32(r.g.capacity-1)
	x := func(i int) float32 { return size.Width - float32(n-1-i)*step }
	y := func(v float64) float32 {
		h := size.Height - 1
		return h - float32(v)/scale*h
	}
	for i := 0; i < n-1 && i < len(r.rxLines); i++ {
		r.rxLines[i].Position1 = fyne.NewPos(x(i), y(r.g.rx[i]))
		r.rxLines[i].Position2 = fyne.NewPos(x(i+1), y(r.g.rx[i+1]))
		r.txLines[i].Position1 = fyne.NewPos(x(i), y(r.g.tx[i]))
		r.txLines[i].Position2 = fyne.NewPos(x(i+1), y(r.g.tx[i+1]))
	}
}
