//go:build ignore

// gentray draws the tray icons (go generate ./assets). Each state has its
// own shape, so that it reads without colour: disconnected is a hollow
// ring, connecting a ring broken into dashes, connected a filled disc
// with a check cut out, error a filled triangle with an exclamation mark
// cut out. The shapes are sampled 8x8 per pixel (antialiased) at 64x64.
package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

const (
	size = 64
	ss   = 8 // samples per pixel and axis
)

// A shape says whether the point (x, y), both in 0..1, is inside.
type shape func(x, y float64) bool

func dist(x, y, cx, cy float64) float64 { return math.Hypot(x-cx, y-cy) }

// segDist is the distance from (x, y) to the segment a-b.
func segDist(x, y, ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := ((x-ax)*dx + (y-ay)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(x-(ax+t*dx), y-(ay+t*dy))
}

func ring(x, y float64) bool {
	d := dist(x, y, .5, .5)
	return d <= .44 && d >= .30
}

// dashes: the ring cut into 8 dashes by radial gaps.
func dashes(x, y float64) bool {
	if !ring(x, y) {
		return false
	}
	a := math.Atan2(y-.5, x-.5) + math.Pi // 0..2pi
	seg := math.Mod(a+math.Pi/16, math.Pi/4)
	return seg > math.Pi/4*0.4
}

func check(x, y float64) bool {
	return segDist(x, y, .27, .52, .43, .68) < .07 || segDist(x, y, .43, .68, .74, .35) < .07
}

func checkDisc(x, y float64) bool {
	return dist(x, y, .5, .5) <= .46 && !check(x, y)
}

// triangle pointing up, corners rounded by .06.
func triangle(x, y float64) bool {
	ax, ay, bx, by, cx, cy := .5, .12, .90, .84, .10, .84
	inside := func(px, py float64) bool {
		s := func(x1, y1, x2, y2 float64) float64 { return (x2-x1)*(py-y1) - (y2-y1)*(px-x1) }
		d1, d2, d3 := s(ax, ay, bx, by), s(bx, by, cx, cy), s(cx, cy, ax, ay)
		return (d1 >= 0 && d2 >= 0 && d3 >= 0) || (d1 <= 0 && d2 <= 0 && d3 <= 0)
	}
	const r = .06
	return inside(x, y) || segDist(x, y, ax, ay, bx, by) < r || segDist(x, y, bx, by, cx, cy) < r || segDist(x, y, cx, cy, ax, ay) < r
}

func exclamation(x, y float64) bool {
	return segDist(x, y, .5, .38, .5, .58) < .055 || dist(x, y, .5, .72) < .06
}

func warning(x, y float64) bool { return triangle(x, y) && !exclamation(x, y) }

func draw(s shape, c color.NRGBA) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for py := 0; py < size; py++ {
		for px := 0; px < size; px++ {
			n := 0
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					x := (float64(px) + (float64(sx)+.5)/ss) / size
					y := (float64(py) + (float64(sy)+.5)/ss) / size
					if s(x, y) {
						n++
					}
				}
			}
			if n > 0 {
				c := c
				c.A = uint8(int(c.A) * n / (ss * ss))
				img.SetNRGBA(px, py, c)
			}
		}
	}
	var b bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&b, img); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func main() {
	for _, ic := range []struct {
		file string
		s    shape
		c    color.NRGBA
	}{
		{"tray-disconnected.png", ring, color.NRGBA{0x8a, 0x8f, 0x98, 0xff}},
		{"tray-connecting.png", dashes, color.NRGBA{0xe8, 0xa3, 0x17, 0xff}},
		{"tray-connected.png", checkDisc, color.NRGBA{0x2e, 0xa0, 0x43, 0xff}},
		{"tray-error.png", warning, color.NRGBA{0xd9, 0x3a, 0x2f, 0xff}},
	} {
		if err := os.WriteFile(ic.file, draw(ic.s, ic.c), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
