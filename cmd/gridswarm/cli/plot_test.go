package cli

import (
	"bytes"
	"flag"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/gridswarm/gridswarm/scheduler"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// plotFixture is a job of five rounds whose last is still running.
func plotFixture() *scheduler.Job {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	j := &scheduler.Job{ID: "job-plot", Name: "mnist-mlp", Status: scheduler.StatusRunning}
	loss := []float64{2.1, 0.9, 0.55, 0.41}
	acc := []float64{0.62, 0.85, 0.91, 0.935}
	for i := range 5 {
		r := scheduler.Round{Index: i, Started: t0.Add(time.Duration(i) * time.Minute)}
		if i < len(loss) {
			end := r.Started.Add(50 * time.Second)
			r.Finished, r.Loss, r.ValAccuracy = &end, loss[i], acc[i]
		}
		j.Rounds = append(j.Rounds, r)
	}
	return j
}

// The plot has two panels, loss and accuracy (%), each with its own y axis,
// over rounds numbered 1..4 as job show numbers them. The SVG is compared
// with testdata/job_plot.svg (go test -run TestJobPlotGolden -update
// rewrites it after a change that is understood).
func TestJobPlotGolden(t *testing.T) {
	c := vgsvg.New(plotWidth, plotHeight)
	if err := drawJob(plotFixture(), c); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := c.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "job_plot.svg")
	if *update {
		if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("job plot differs from %s; if the change is intended, rerun with -update and look at the file", golden)
	}
	svg := got.String()
	for _, text := range []string{"job job-plot (mnist-mlp): training loss", "validation accuracy", "accuracy (%)", ">loss<", ">round<"} {
		if !strings.Contains(svg, text) {
			t.Errorf("plot lacks the text %q", text)
		}
	}
}

func TestRoundTicks(t *testing.T) {
	for _, tt := range []struct {
		lo, hi float64
		want   []string
	}{
		{1, 4, []string{"1", "2", "3", "4"}},
		{1, 10, []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}},
		{1, 30, []string{"1", "4", "7", "10", "13", "16", "19", "22", "25", "28"}},
	} {
		var got []string
		for _, tk := range (roundTicks{}).Ticks(tt.lo, tt.hi) {
			got = append(got, tk.Label)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Ticks(%v, %v) = %v, want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
}

// job plot writes a PNG of the figure's size; a job with no finished
// round and a format it cannot write are refused.
func TestPlotJobFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "curves.png")
	if err := plotJob(plotFixture(), p); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("job plot wrote no PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() <= b.Dy() || b.Dy() < 400 {
		t.Errorf("PNG is %dx%d; want a landscape figure at least 400 px high", b.Dx(), b.Dy())
	}
	if err := plotJob(&scheduler.Job{ID: "empty", Rounds: []scheduler.Round{{}}}, filepath.Join(dir, "e.png")); err == nil || !strings.Contains(err.Error(), "no finished round") {
		t.Errorf("plot of a job with no finished round: %v", err)
	}
	if err := plotJob(plotFixture(), filepath.Join(dir, "x.bmp")); err == nil || !strings.Contains(err.Error(), ".png, .svg or .pdf") {
		t.Errorf("plot to .bmp: %v", err)
	}
}
