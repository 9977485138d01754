package node

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMeasureSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), measureFile)
	log := slog.New(slog.DiscardHandler)
	m := loadMeasure(path, log)
	m.ObserveTransfer("p1", 10<<20, time.Second)
	m.ObserveOutcome("p1", false)
	if err := saveMeasure(path, m); err != nil {
		t.Fatal(err)
	}
	again := loadMeasure(path, log)
	if got, want := again.Bandwidth("p1"), m.Bandwidth("p1"); got != want {
		t.Errorf("bandwidth after reload = %v, want %v", got, want)
	}
	if got := again.Reputation("p1"); got >= 0.5 {
		t.Errorf("reputation after reload = %v, want the failure remembered (< 0.5)", got)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := loadMeasure(path, log).Reputation("p1"); got != 0.5 {
		t.Errorf("a corrupt file gave reputation %v, want a fresh table's 0.5", got)
	}
}
