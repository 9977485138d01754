package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// pollEvery is how often the benchmark looks for a starting daemon's API.
const pollEvery = 5 * time.Millisecond

// readyTimes starts each kind rounds times, taking turns (A B A B …) so that
// a change in the machine's load falls on every kind alike, and returns each
// kind's exec-to-ready times in round order.
func readyTimes(ctx context.Context, work string, kinds []kind, rounds int, timeout time.Duration) ([][]time.Duration, error) {
	times := make([][]time.Duration, len(kinds))
	for r := range rounds {
		for i, k := range kinds {
			dir := filepath.Join(work, fmt.Sprintf("ready-%d-%d", r, i))
			d, err := readyOnce(ctx, k, dir, timeout)
			if err != nil {
				return nil, fmt.Errorf("%s, round %d: %w", k.name(), r+1, err)
			}
			times[i] = append(times[i], d)
			_ = os.RemoveAll(dir)
		}
	}
	return times, nil
}

// readyOnce makes a fresh repo (untimed), then times exec to the first
// successful API call, then stops the daemon.
func readyOnce(ctx context.Context, k kind, dir string, timeout time.Duration) (time.Duration, error) {
	if err := k.initRepo(ctx, dir); err != nil {
		return 0, err
	}
	cmd := k.command(dir, "")
	start := time.Now()
	p, err := startProc(cmd)
	if err != nil {
		return 0, err
	}
	defer p.stop(20 * time.Second)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err = waitFor(wctx, p, pollEvery, func() bool {
		_, ok := k.probe(wctx, dir)
		return ok
	})
	elapsed := time.Since(start)
	if err != nil {
		return 0, err
	}
	return elapsed, nil
}
