package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/gridswarm/gridswarm/scheduler"
)

// curve is one line of a panel.
type curve struct {
	name string
	xy   plotter.XYs
	dash bool
}

// plotJob draws a job's curves per finished round, rounds numbered from 1
// as job show and job watch number them, in two panels with their own y
// axes: training and validation loss above, validation accuracy below (on
// one axis the accuracy was a flat line near the top). The format follows
// path's extension (png, svg, pdf, …).
func plotJob(j *scheduler.Job, path string) error {
	var loss, valLoss, acc plotter.XYs
	for _, r := range j.Rounds {
		if r.Finished == nil {
			continue
		}
		x := float64(r.Index + 1)
		loss = append(loss, plotter.XY{X: x, Y: r.Loss})
		valLoss = append(valLoss, plotter.XY{X: x, Y: r.ValLoss})
		acc = append(acc, plotter.XY{X: x, Y: r.ValAccuracy})
	}
	if len(loss) == 0 {
		return fmt.Errorf("job %s has no finished round to plot yet", j.ID)
	}
	top, err := panel(fmt.Sprintf("%s: loss", j.ID), "loss", []curve{{"training loss", loss, false}, {"validation loss", valLoss, true}})
	if err != nil {
		return err
	}
	bottom, err := panel("validation accuracy", "accuracy", []curve{{"validation accuracy", acc, false}})
	if err != nil {
		return err
	}
	bottom.X.Label.Text = "round"
	bottom.Legend.Top = false // accuracy rises towards the top right
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	c, err := draw.NewFormattedCanvas(8*vg.Inch, 6*vg.Inch, format)
	if err != nil {
		return fmt.Errorf("cannot plot to %s: %w (use .png, .svg or .pdf)", path, err)
	}
	rows := [][]*plot.Plot{{top}, {bottom}}
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(8), PadY: vg.Points(10)}
	canvases := plot.Align(rows, tiles, draw.New(c))
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
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

// panel is one plot with its own y axis, x ticks on whole rounds.
func panel(title, ylabel string, curves []curve) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.X.Tick.Marker = roundTicks{}
	p.Add(plotter.NewGrid())
	for _, s := range curves {
		l, pts, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return nil, fmt.Errorf("cannot plot %s: %w", s.name, err)
		}
		if s.dash {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	p.Legend.Top = true
	return p, nil
}

// roundTicks labels whole rounds only, at most about ten of them.
type roundTicks struct{}

func (roundTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(lo+0.999), int(hi)
	step := max(1, (last-first+1+9)/10)
	var ts []plot.Tick
	for r := first; r <= last; r += step {
		ts = append(ts, plot.Tick{Value: float64(r), Label: fmt.Sprint(r)})
	}
	return ts
}
