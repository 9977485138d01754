package node

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/gridswarm/gridswarm/internal/fsutil"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/measure"
	"github.com/gridswarm/gridswarm/verify"
)

// measureFile is where the coordinator's measurements of peers outlive the
// daemon, inside the repo.
const measureFile = "measure.json"

// loadMeasure returns the measurement table saved at path, or an empty one
// when there is none or it cannot be read (logged: measurements only rank
// peers, so starting afresh is safe).
func loadMeasure(path string, log *slog.Logger) *measure.Table {
	t := measure.New(measure.Config{})
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return t
	}
	var s measure.Snapshot
	if err == nil {
		err = json.Unmarshal(b, &s)
	}
	if err == nil {
		err = t.Restore(s)
	}
	if err != nil {
		log.Warn("cannot read the saved peer measurements; starting afresh", "file", path, "err", err)
		return measure.New(measure.Config{})
	}
	return t
}

// saveMeasure writes t to path atomically.
func saveMeasure(path string, t *measure.Table) error {
	b, err := json.Marshal(t.Snapshot())
	if err != nil {
		return fmt.Errorf("cannot encode peer measurements: %w", err)
	}
	if err := fsutil.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("cannot save peer measurements: %w", err)
	}
	return nil
}

// trustFile is where the coordinator's spot-check records of peers (and
// their bans) outlive the daemon, inside the repo.
const trustFile = "trust.json"

// loadTrust returns the trust records saved at path. A file that cannot be
// read is moved aside (logged as an error: the bans in it are forgotten)
// so the daemon still starts.
func loadTrust(path string, log *slog.Logger) *scheduler.Trust {
	t, err := scheduler.LoadTrust(path, verify.DefaultRule)
	if err == nil {
		return t
	}
	aside := path + ".unreadable"
	if rerr := os.Rename(path, aside); rerr != nil {
		log.Error("cannot read the saved trust records nor move them aside; keeping them in memory only", "file", path, "err", err, "rename", rerr)
		return scheduler.NewTrust(verify.DefaultRule)
	}
	log.Error("cannot read the saved trust records; moved them aside and started afresh (earlier bans are forgotten)", "file", path, "moved_to", aside, "err", err)
	t, err = scheduler.LoadTrust(path, verify.DefaultRule)
	if err != nil {
		return scheduler.NewTrust(verify.DefaultRule)
	}
	return t
}
