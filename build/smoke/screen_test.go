//go:build smoke

package smoke

import (
	"fmt"
	"image"
	"slices"
)

// listArea is what a screenshot shows where the timeline lists its events:
// the lower part of the window, right of the facet sidebar.
type listArea struct {
	colours   int     // distinct colours on the whole screen
	luminance float64 // of the area's background, 0 (black) to 1 (white)
	lines     []int   // top y of each band of text in the area
}

// The area, as fractions of the screen: below the query bar and the
// histogram, right of the facets, above the window's bottom edge.
const (
	areaLeft, areaRight = 0.22, 0.98
	areaTop, areaBottom = 0.50, 0.97
)

// rows says whether the area shows rows of a list: at least eight bands of
// text at a steady pitch of 28–48 px, as the timeline's 36 px rows draw them.
// An empty state, an error or a loading skeleton draws a few bands at most,
// or bands without text's many edges.
func (l listArea) rows() bool {
	if len(l.lines) < 8 {
		return false
	}
	gaps := make([]int, 0, len(l.lines)-1)
	for i := 1; i < len(l.lines); i++ {
		gaps = append(gaps, l.lines[i]-l.lines[i-1])
	}
	slices.Sort(gaps)
	median := gaps[len(gaps)/2]
	steady := 0
	for _, g := range gaps {
		if g >= median-3 && g <= median+3 {
			steady++
		}
	}
	return median >= 28 && median <= 48 && steady*4 >= len(gaps)*3
}

func (l listArea) String() string {
	return fmt.Sprintf("%d colours, list background luminance %.2f, %d text lines at y=%v", l.colours, l.luminance, len(l.lines), l.lines)
}

func measureList(img image.Image) listArea {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	x0, x1 := b.Min.X+int(areaLeft*float64(w)), b.Min.X+int(areaRight*float64(w))
	y0, y1 := b.Min.Y+int(areaTop*float64(h)), b.Min.Y+int(areaBottom*float64(h))

	l := listArea{colours: countColours(img)}
	area := map[uint32]int{}
	inText := false
	gap := 0
	for y := y0; y < y1; y++ {
		// A scan line crosses text when many pixels differ from the line's
		// own background and they switch back and forth often (glyph
		// strokes), unlike a border, a highlight or a skeleton bar.
		line := map[uint32]int{}
		px := make([]uint32, 0, x1-x0)
		for x := x0; x < x1; x++ {
			c := rgb(img, x, y)
			px = append(px, c)
			line[c]++
			area[c]++
		}
		bg := mode(line)
		ink, edges := 0, 0
		prev := false
		for _, c := range px {
			on := distance(c, bg) > 90
			if on {
				ink++
			}
			if on != prev {
				edges++
			}
			prev = on
		}
		text := ink >= 12 && edges >= 24
		switch {
		case text && !inText:
			if gap >= 4 || len(l.lines) == 0 {
				l.lines = append(l.lines, y-b.Min.Y)
			}
			inText, gap = true, 0
		case !text:
			inText = false
			gap++
		}
	}
	bg := mode(area)
	r, g, bl := float64(bg>>16&0xff), float64(bg>>8&0xff), float64(bg&0xff)
	l.luminance = (0.2126*r + 0.7152*g + 0.0722*bl) / 255
	return l
}

func rgb(img image.Image, x, y int) uint32 {
	r, g, b, _ := img.At(x, y).RGBA()
	return (r>>8)<<16 | (g>>8)<<8 | b>>8
}

func mode(counts map[uint32]int) uint32 {
	var best uint32
	n := -1
	for c, k := range counts {
		if k > n || (k == n && c < best) {
			best, n = c, k
		}
	}
	return best
}

func distance(a, b uint32) int {
	d := 0
	for _, s := range []uint{16, 8, 0} {
		x, y := int(a>>s&0xff), int(b>>s&0xff)
		if x > y {
			d += x - y
		} else {
			d += y - x
		}
	}
	return d
}

func countColours(img image.Image) int {
	seen := map[uint32]struct{}{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			seen[rgb(img, x, y)] = struct{}{}
		}
	}
	return len(seen)
}
