package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// Run simulates cfg.Rounds rounds for every strategy on the same seeded world
// and returns one row per strategy plus the lower bound. The same Config
// always gives the same Report.
func Run(cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, fmt.Errorf("checking the simulation config: %w", err)
	}
	geo, err := LoadGeo()
	if err != nil {
		return Report{}, err
	}
	w, err := newWorld(cfg, geo)
	if err != nil {
		return Report{}, fmt.Errorf("building scenario %s: %w", cfg.Scenario, err)
	}
	strats := strategies(cfg.RoundTrips)
	rows := make([]accum, len(strats)+1)
	var prev []bool
	for n := range cfg.Rounds {
		rd := w.nextRound(n, prev)
		bound, perTasklet := w.bound(rd)
		rows[len(strats)].add(roundResult{time: bound, completions: perTasklet})
		for i, s := range strats {
			res, err := w.play(rd, s)
			if err != nil {
				return Report{}, fmt.Errorf("round %d with strategy %s: %w", n, s.name(), err)
			}
			rows[i].add(res)
		}
		prev = rd.present
	}
	names := make([]string, 0, len(rows))
	for _, s := range strats {
		names = append(names, s.name())
	}
	return newReport(cfg, append(names, LowerBound), rows), nil
}

// roundResult is what one strategy achieved in one round.
type roundResult struct {
	time        time.Duration   // the slowest tasklet's completion
	completions []time.Duration // per tasklet, from the round's start
	bytes       float64
	replaced    int
}

// attempt is one try at running a tasklet on a peer.
type attempt struct {
	peer       int
	fetchStart time.Duration
	fetchDur   time.Duration
	end        time.Duration
	bytes      uint64
}

// engine plays one round for one strategy: peers run their tasklets one after
// another (setup, fetch what they lack, compute); a peer dropping out fails
// its unfinished tasklets, which are re-placed once the drop is noticed.
type engine struct {
	w          *world
	rd         *round
	s          strategy
	busy       []time.Duration // when each peer's queue empties
	hasWeights []bool
	gone       []bool
	onPeer     [][]int // tasklets whose current attempt is on the peer
	tasks      []attempt
	maxEnd     time.Duration
	calls      int
	res        roundResult
}

type batch struct {
	at    time.Duration
	tasks []int
}

func (w *world) play(rd *round, s strategy) (roundResult, error) {
	n := len(w.peers)
	e := &engine{
		w: w, rd: rd, s: s,
		busy: make([]time.Duration, n), hasWeights: make([]bool, n), gone: make([]bool, n),
		onPeer: make([][]int, n), tasks: make([]attempt, len(rd.tasklets)),
	}
	all := make([]int, len(rd.tasklets))
	for i := range all {
		all[i] = i
	}
	if err := e.assign(all, 0); err != nil {
		return roundResult{}, err
	}
	var pending []batch
	drops := rd.drops()
	for di := 0; ; {
		haveDrop := di < len(drops) && rd.dropAt[drops[di]] < e.maxEnd
		if !haveDrop && len(pending) == 0 {
			break
		}
		if haveDrop && (len(pending) == 0 || rd.dropAt[drops[di]] <= pending[0].at) {
			p := drops[di]
			di++
			if failed := e.drop(p, rd.dropAt[p]); len(failed) > 0 {
				pending = append(pending, batch{at: rd.dropAt[p] + w.cfg.Detect, tasks: failed})
			}
			continue
		}
		b := pending[0]
		pending = pending[1:]
		e.res.replaced += len(b.tasks)
		if err := e.assign(b.tasks, b.at); err != nil {
			return roundResult{}, err
		}
	}
	e.res.completions = make([]time.Duration, len(e.tasks))
	for i, a := range e.tasks {
		e.res.completions[i] = a.end
		e.res.time = max(e.res.time, a.end)
		e.res.bytes += float64(a.bytes)
	}
	return e.res, nil
}

// drops lists the present peers that drop out mid-round, earliest first.
func (rd *round) drops() []int {
	var out []int
	for i, at := range rd.dropAt {
		if rd.present[i] && at != noDrop {
			out = append(out, i)
		}
	}
	slices.SortFunc(out, func(a, b int) int { return cmp.Or(cmp.Compare(rd.dropAt[a], rd.dropAt[b]), cmp.Compare(a, b)) })
	return out
}

func (e *engine) assign(tasks []int, now time.Duration) error {
	snap, ids := e.w.snapshot(e.rd, now, e.gone, e.busy, e.hasWeights)
	ts := make([]placement.Tasklet, len(tasks))
	for k, t := range tasks {
		ts[k] = e.rd.tasklets[t]
	}
	seed := placement.SeedFrom(fmt.Sprintf("sim/%d/%d", e.w.cfg.Seed, e.calls), e.rd.n)
	e.calls++
	choice, err := e.s.assign(&call{snap: snap, ts: ts, seed: seed, peers: ids, tasks: tasks, w: e.w, rd: e.rd})
	if err != nil {
		return fmt.Errorf("placing at %v: %w", now, err)
	}
	for k, t := range tasks {
		c := choice[k]
		if c < 0 || c >= len(snap) {
			return fmt.Errorf("placing at %v: tasklet %s got no peer", now, ts[k].ID)
		}
		e.start(t, int(ids[c]), now)
	}
	return nil
}

// start queues tasklet t on peer p at time now.
func (e *engine) start(t, p int, now time.Duration) {
	w, rd := e.w, e.rd
	r := w.peers[p].region
	a := attempt{peer: p, fetchStart: max(now, e.busy[p]) + rd.setup[r]}
	if !e.hasWeights[p] { // a later tasklet on the same peer reuses the weights
		a.fetchDur += rd.weightsT[r]
		a.bytes += w.cfg.ModelBytes
		e.hasWeights[p] = true
	}
	if w.peers[p].holds[shardCID(t)] < w.cfg.ShardBytes {
		a.fetchDur += rd.shardT[t][r]
		a.bytes += w.cfg.ShardBytes
	}
	a.end = a.fetchStart + a.fetchDur + w.compute(rd, p)
	e.busy[p] = a.end
	e.maxEnd = max(e.maxEnd, a.end)
	e.onPeer[p] = append(e.onPeer[p], t)
	e.tasks[t] = a
}

// drop removes peer p at time at and returns the tasklets it had not finished,
// counting the bytes they had fetched so far.
func (e *engine) drop(p int, at time.Duration) []int {
	e.gone[p] = true
	var failed []int
	for _, t := range e.onPeer[p] {
		a := e.tasks[t]
		if a.end <= at {
			continue
		}
		if a.fetchDur > 0 && at > a.fetchStart {
			frac := min(float64(at-a.fetchStart)/float64(a.fetchDur), 1)
			e.res.bytes += frac * float64(a.bytes)
		}
		failed = append(failed, t)
	}
	e.onPeer[p] = nil
	return failed
}
