package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gridswarm/gridswarm/scheduler"
)

// The whole figure: two panels, one above the other.
const plotWidth, plotHeight = 8 * vg.Inch, 6 * vg.Inch

// plotJob draws the job's training loss and validation accuracy per round
// into path, in the format its extension names (.png, .svg, .pdf, …).
func plotJob(j *scheduler.Job, path string) error {
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	c, err := draw.NewFormattedCanvas(plotWidth, plotHeight, format)
	if err != nil {
		return usageError{fmt.Sprintf("job plot: cannot write %q files: name the file .png, .svg or .pdf", filepath.Ext(path))}
	}
	if err := drawJob(j, c); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if _, err := c.WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}

// drawJob draws two panels on c: training loss above, validation accuracy
// (%) below, each on its own y axis, over the same rounds numbered from 1
// as job show and job watch number them.
func drawJob(j *scheduler.Job, c vg.CanvasSizer) error {
	var loss, acc plotter.XYs
	for _, r := range j.Rounds {
		if r.Finished == nil || r.Validating { // both panels show the same rounds
			continue
		}
		n := float64(r.Index + 1)
		loss = append(loss, plotter.XY{X: n, Y: r.Loss})
		acc = append(acc, plotter.XY{X: n, Y: r.ValAccuracy * 100})
	}
	if len(loss) == 0 {
		return fmt.Errorf("job %s has no finished round to plot yet", j.ID)
	}
	last := int(loss[len(loss)-1].X)
	panels := make([]*plot.Plot, 2)
	for i, s := range []struct {
		title, ylabel string
		xy            plotter.XYs
	}{
		{fmt.Sprintf("job %s (%s): training loss", j.ID, j.Name), "loss", loss},
		{"validation accuracy", "accuracy (%)", acc},
	} {
		p := plot.New()
		p.Title.Text = s.title
		p.X.Label.Text = "round"
		p.Y.Label.Text = s.ylabel
		p.X.Min, p.X.Max = 1, float64(max(last, 2))
		p.X.Tick.Marker = roundTicks{}
		p.Add(plotter.NewGrid())
		l, pts, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return fmt.Errorf("cannot plot %s: %w", s.ylabel, err)
		}
		p.Add(l, pts)
		panels[i] = p
	}
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(12)}
	canvases := plot.Align([][]*plot.Plot{{panels[0]}, {panels[1]}}, tiles, draw.New(c))
	panels[0].Draw(canvases[0][0])
	panels[1].Draw(canvases[1][0])
	return nil
}

// roundTicks labels whole rounds only, at most about ten of them.
type roundTicks struct{}

func (roundTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(lo), int(hi)
	step := max(1, (last-first+9)/10)
	var ts []plot.Tick
	for r := first; r <= last; r += step {
		ts = append(ts, plot.Tick{Value: float64(r), Label: strconv.Itoa(r)})
	}
	return ts
}
