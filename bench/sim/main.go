// Command sim prints the scheduler simulator's comparison table, by default
// for the world-wide scenario: 10,000 peers in 8 regions, 1,000 tasklets a
// round.
//
//	go run ./bench/sim -peers 10000 -rounds 3 -seed 1
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gridswarm/gridswarm/scheduler/sim"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	cfg := sim.WorldWide()
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed for the world, churn and tie-breaks")
	fs.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "geo scenario: world_wide_8, regional_4 or multi_university_2")
	fs.StringVar(&cfg.Coordinator, "coordinator", cfg.Coordinator, "region of the coordinator and the weights")
	fs.IntVar(&cfg.Peers, "peers", cfg.Peers, "peers in the swarm")
	fs.IntVar(&cfg.Tasklets, "tasklets", cfg.Tasklets, "tasklets per round")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "rounds to simulate")
	fs.DurationVar(&cfg.MeanSession, "session", cfg.MeanSession, "mean time until a peer drops out mid-round; 0 turns drop-outs off")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rep, err := sim.Run(cfg)
	if err != nil {
		return err
	}
	_, err = io.WriteString(out, rep.Table())
	return err
}
