package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/scheduler"
)

func TestRoundTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []float64
	}{
		{1, 3, []float64{1, 2, 3}},
		{0.8, 3.2, []float64{1, 2, 3}},
		{1, 25, []float64{1, 4, 7, 10, 13, 16, 19, 22, 25}},
		{1, 1, []float64{1}},
	}
	for _, tt := range tests {
		var got []float64
		for _, tk := range (roundTicks{}).Ticks(tt.lo, tt.hi) {
			got = append(got, tk.Value)
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Ticks(%v, %v) = %v, want %v", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestPlotJobFormats(t *testing.T) {
	now := time.Now()
	j := &scheduler.Job{ID: "j1"}
	for i := range 3 {
		j.Rounds = append(j.Rounds, scheduler.Round{Index: i, Loss: 1 / float64(i+1), ValLoss: 1.1 / float64(i+1), ValAccuracy: 0.8 + 0.05*float64(i), Finished: &now})
	}
	dir := t.TempDir()
	for name, magic := range map[string][]byte{"p.png": []byte("\x89PNG"), "p.svg": []byte("<?xml"), "p.pdf": []byte("%PDF")} {
		path := filepath.Join(dir, name)
		if err := plotJob(j, path); err != nil {
			t.Fatalf("plotJob %s: %v", name, err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, magic) {
			t.Errorf("%s starts %q, want %q", name, b[:min(len(b), 8)], magic)
		}
	}
	if err := plotJob(j, filepath.Join(dir, "p.doc")); err == nil {
		t.Error("plotJob to .doc succeeded")
	}
	if err := plotJob(&scheduler.Job{ID: "empty"}, filepath.Join(dir, "e.png")); err == nil {
		t.Error("plotJob of a job without finished rounds succeeded")
	}
}
