// Command verify prints the verification policy's cost and catch rate
// over seeded simulations (package verify/sim): for each check-rate floor,
// the mean overhead (extra tasklet-runs / honest tasklet-runs) and the
// share of cheaters caught within their first 1,000 tasklets.
//
//	go run ./bench/verify -seeds 200
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/gridswarm/gridswarm/verify/sim"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	cfg := sim.Default()
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	seeds := fs.Int("seeds", 100, "seeded jobs per row")
	rates := fs.String("rates", "0.05,0.08,0.09,0.1,0.15", "check-rate floors (verify.rate), one row each")
	fs.Float64Var(&cfg.Rates.MinRateNewPeers, "new", cfg.Rates.MinRateNewPeers, "verify.min_rate_new_peers")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "workers in the swarm")
	fs.IntVar(&cfg.Cheaters, "cheaters", cfg.Cheaters, "of them, cheaters")
	fs.Float64Var(&cfg.CheatRate, "cheat", cfg.CheatRate, "share of its tasklets a cheater fakes")
	fs.BoolVar(&cfg.Collude, "collude", cfg.Collude, "cheaters' fakes of one tasklet agree")
	fs.IntVar(&cfg.Tasklets, "tasklets", cfg.Tasklets, "tasklets per job")
	fs.IntVar(&cfg.Window, "window", cfg.Window, "caught means a lost vote within a cheater's first this many tasklet-runs")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *seeds < 1 {
		return fmt.Errorf("-seeds %d: want at least 1", *seeds)
	}
	fmt.Fprintf(out, "%d jobs of %d tasklets per row; %d workers, %d cheating on %.0f%% of tasklets%s; min_rate_new_peers %.2g\n\n",
		*seeds, cfg.Tasklets, cfg.Workers, cfg.Cheaters, 100*cfg.CheatRate, map[bool]string{true: ", colluding"}[cfg.Collude], cfg.Rates.MinRateNewPeers)
	fmt.Fprintln(out, "| verify.rate | overhead (mean, max) | cheaters caught within window (95% lower bound) | banned | fakes accepted | thirds / no third / faults per job | honest lost votes |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|")
	for _, f := range strings.Split(*rates, ",") {
		rate, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return fmt.Errorf("-rates: %w", err)
		}
		c := cfg
		c.Rates.Rate = rate
		var sum sim.Result
		var over, maxOver float64
		for s := range *seeds {
			c.Seed = uint64(s + 1)
			r, err := sim.Run(c)
			if err != nil {
				return err
			}
			over += r.Overhead()
			maxOver = math.Max(maxOver, r.Overhead())
			sum.Tasklets += r.Tasklets
			sum.Thirds += r.Thirds
			sum.NoThird += r.NoThird
			sum.Faults += r.Faults
			sum.Cheaters += r.Cheaters
			sum.Caught += r.Caught
			sum.Banned += r.Banned
			sum.Faked += r.Faked
			sum.FakeAccepted += r.FakeAccepted
			sum.HonestLost += r.HonestLost
		}
		n := float64(*seeds)
		caught := float64(sum.Caught) / math.Max(1, float64(sum.Cheaters))
		fmt.Fprintf(out, "| %.2f | %.1f%%, %.1f%% | %.1f%% (%.1f%%) | %.1f%% | %.1f%% of %d | %.1f / %.1f / %.1f | %d |\n",
			rate, 100*over/n, 100*maxOver, 100*caught, 100*wilsonLower(sum.Caught, sum.Cheaters), 100*float64(sum.Banned)/math.Max(1, float64(sum.Cheaters)),
			100*float64(sum.FakeAccepted)/math.Max(1, float64(sum.Faked)), sum.Faked,
			float64(sum.Thirds)/n, float64(sum.NoThird)/n, float64(sum.Faults)/n, sum.HonestLost)
	}
	return nil
}

// wilsonLower is the lower end of the 95% Wilson score interval of k
// successes in n trials.
func wilsonLower(k, n int) float64 {
	if n == 0 {
		return 0
	}
	const z = 1.96
	p := float64(k) / float64(n)
	nn := float64(n)
	den := 1 + z*z/nn
	centre := p + z*z/(2*nn)
	half := z * math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn))
	return (centre - half) / den
}
