package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"
)

// swarmResult is what memoryRun measured of one kind's swarm.
type swarmResult struct {
	mem       []memory // one per daemon, in start order
	peers     []int    // connected peers of each daemon when memory was read
	goStats   []map[string]float64
	meshAfter time.Duration
	meshFull  bool // every daemon saw n-1 peers before the mesh timeout
}

// memoryRun starts n daemons of kind k, joins them to the first, waits until
// each sees n-1 peers (or meshTimeout passes), idles, and reads each
// daemon's memory. All daemons are stopped before it returns.
func memoryRun(ctx context.Context, work string, k kind, n int, meshTimeout, idle, readyTimeout time.Duration) (swarmResult, error) {
	var res swarmResult
	procs := make([]*proc, 0, n)
	eps := make([]endpoint, 0, n)
	defer func() {
		for _, p := range procs {
			p.stop(20 * time.Second)
		}
	}()
	for i := range n {
		dir := filepath.Join(work, fmt.Sprintf("mem-%d", i))
		if err := k.initRepo(ctx, dir); err != nil {
			return res, err
		}
		boot := ""
		if i > 0 {
			boot = eps[0].swarm
		}
		p, err := startProc(k.command(dir, boot))
		if err != nil {
			return res, err
		}
		procs = append(procs, p)
		ep, err := waitReady(ctx, k, p, dir, readyTimeout)
		if err != nil {
			return res, fmt.Errorf("%s daemon %d: %w", k.name(), i+1, err)
		}
		if ep.swarm == "" {
			return res, fmt.Errorf("%s daemon %d lists no loopback TCP address to join", k.name(), i+1)
		}
		if i > 0 {
			if err := k.join(ctx, ep, eps[0].swarm); err != nil {
				return res, err
			}
		}
		eps = append(eps, ep)
	}
	start := time.Now()
	var err error
	res.meshFull, err = waitMesh(ctx, k, procs, eps, n-1, meshTimeout)
	if err != nil {
		return res, err
	}
	res.meshAfter = time.Since(start)
	select {
	case <-ctx.Done():
		return res, ctx.Err()
	case <-time.After(idle):
	}
	for i, p := range procs {
		if err := p.died(); err != nil {
			return res, err
		}
		m, err := readMemory(p.pid())
		if err != nil {
			return res, err
		}
		c, err := k.peers(ctx, eps[i])
		if err != nil {
			return res, fmt.Errorf("%s daemon %d: cannot count peers: %w", k.name(), i+1, err)
		}
		g, err := k.goRuntime(ctx, eps[i])
		if err != nil {
			return res, fmt.Errorf("%s daemon %d: %w", k.name(), i+1, err)
		}
		res.mem = append(res.mem, m)
		res.peers = append(res.peers, c)
		res.goStats = append(res.goStats, g)
	}
	return res, nil
}

// waitReady polls a started daemon until its API answers.
func waitReady(ctx context.Context, k kind, p *proc, dir string, timeout time.Duration) (endpoint, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var ep endpoint
	err := waitFor(ctx, p, pollEvery, func() bool {
		var ok bool
		ep, ok = k.probe(ctx, dir)
		return ok
	})
	return ep, err
}

// waitMesh polls every daemon's peer count until all reach want. Running out
// of time is not an error: the report says how far the mesh got.
func waitMesh(ctx context.Context, k kind, procs []*proc, eps []endpoint, want int, timeout time.Duration) (bool, error) {
	deadline := time.Now().Add(timeout)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		full := true
		for i, ep := range eps {
			if err := procs[i].died(); err != nil {
				return false, err
			}
			c, err := k.peers(ctx, ep)
			if err != nil {
				return false, fmt.Errorf("%s daemon %d: cannot count peers: %w", k.name(), i+1, err)
			}
			full = full && c >= want
		}
		if full {
			return true, nil
		}
		if time.Now().After(deadline) {
			return false, nil
		}
		select {
		case <-ctx.Done():
			return false, errors.Join(ctx.Err(), errors.New("interrupted while the swarm formed"))
		case <-t.C:
		}
	}
}
