package sim

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report compares the strategies on one scenario.
type Report struct {
	Scenario    string
	Coordinator string
	Peers       int
	Tasklets    int // per round
	Rounds      int
	Seed        uint64
	Rows        []Row // ours, random, round-robin, latency-only, locality-only, lower bound
}

// Row is one strategy's result over all rounds.
type Row struct {
	Strategy   string
	RoundTimes []time.Duration // each round's slowest tasklet
	RoundTime  time.Duration   // mean of RoundTimes
	VsBound    float64         // sum of RoundTimes / sum of the lower bounds
	BytesMoved uint64          // fetched by every attempt, failed ones up to the failure
	P95        time.Duration   // 95th percentile tasklet completion, all rounds
	Replaced   int             // tasklets re-placed after their peer dropped out
}

// Row returns the row of a strategy, e.g. Ours or LowerBound.
func (r Report) Row(strategy string) (Row, bool) {
	i := slices.IndexFunc(r.Rows, func(row Row) bool { return row.Strategy == strategy })
	if i < 0 {
		return Row{}, false
	}
	return r.Rows[i], true
}

type accum struct {
	times       []time.Duration
	completions []time.Duration
	bytes       float64
	replaced    int
}

func (a *accum) add(r roundResult) {
	a.times = append(a.times, r.time)
	a.completions = append(a.completions, r.completions...)
	a.bytes += r.bytes
	a.replaced += r.replaced
}

func newReport(cfg Config, names []string, rows []accum) Report {
	rep := Report{
		Scenario: cfg.Scenario, Coordinator: cfg.Coordinator, Peers: cfg.Peers,
		Tasklets: cfg.Tasklets, Rounds: cfg.Rounds, Seed: cfg.Seed,
	}
	bound := sum(rows[len(rows)-1].times)
	for i, a := range rows {
		total := sum(a.times)
		rep.Rows = append(rep.Rows, Row{
			Strategy:   names[i],
			RoundTimes: a.times,
			RoundTime:  total / time.Duration(len(a.times)),
			VsBound:    float64(total) / float64(bound),
			BytesMoved: uint64(a.bytes),
			P95:        percentile(a.completions, 0.95),
			Replaced:   a.replaced,
		})
	}
	return rep
}

func sum(ds []time.Duration) time.Duration {
	var s time.Duration
	for _, d := range ds {
		s += d
	}
	return s
}

// percentile is the nearest-rank percentile.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(q*float64(len(s))+0.999999) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// Table renders the report as an aligned text table.
func (r Report) Table() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d peers, %d tasklets x %d rounds, coordinator in %s, seed %d\n",
		r.Scenario, r.Peers, r.Tasklets, r.Rounds, r.Coordinator, r.Seed)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tround time\tvs bound\tbytes moved\tp95 tasklet\tre-placed")
	for _, row := range r.Rows {
		bytes, replaced := fmt.Sprintf("%.1f GB", float64(row.BytesMoved)/1e9), fmt.Sprint(row.Replaced)
		if row.Strategy == LowerBound {
			bytes, replaced = "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2fx\t%s\t%s\t%s\n", row.Strategy,
			row.RoundTime.Round(10*time.Millisecond), row.VsBound, bytes, row.P95.Round(10*time.Millisecond), replaced)
	}
	tw.Flush()
	return b.String()
}
