package cli

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gridswarm/gridswarm/scheduler"
)

// plotJob draws training loss and validation accuracy per round as a PNG.
func plotJob(j *scheduler.Job, path string) error {
	var loss, acc plotter.XYs
	for _, r := range j.Rounds {
		if r.Finished == nil {
			continue
		}
		loss = append(loss, plotter.XY{X: float64(r.Index + 1), Y: r.Loss})
		acc = append(acc, plotter.XY{X: float64(r.Index + 1), Y: r.ValAccuracy})
	}
	if len(loss) == 0 {
		return fmt.Errorf("job %s has no finished round to plot yet", j.ID)
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: training loss and validation accuracy", j.ID)
	p.X.Label.Text = "round"
	p.Y.Label.Text = "loss / accuracy"
	p.Add(plotter.NewGrid())
	for _, s := range []struct {
		name string
		xy   plotter.XYs
		dash bool
	}{{"training loss", loss, false}, {"validation accuracy", acc, true}} {
		l, pts, err := plotter.NewLinePoints(s.xy)
		if err != nil {
			return fmt.Errorf("cannot plot %s: %w", s.name, err)
		}
		if s.dash {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(2)}
		}
		p.Add(l, pts)
		p.Legend.Add(s.name, l, pts)
	}
	p.Legend.Top = true
	if err := p.Save(8*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	return nil
}
