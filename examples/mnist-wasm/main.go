// Command mnist-wasm is a training program that follows the program
// tasklet contract (docs/programs.md, version 1): it reads the round's
// weights, its data shard and the job's training parameters from
// $GRIDSWARM_IN (/in under the wasm executor), trains with the project's
// pure-Go trainer, and writes the weight delta and metrics.json to
// $GRIDSWARM_OUT (/out).
//
// Its output depends only on its inputs and $GRIDSWARM_SEED: the trainer is
// bitwise reproducible and nothing here reads a clock or another source of
// randomness, so two replicas give the same output CID.
//
// Build it with ./build.sh (GOOS=wasip1 GOARCH=wasm, -trimpath, no build
// ID), which prints the module's SHA-256.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

// badInput marks errors that exit with contract.ExitBadInput.
var badInput = errors.New("bad input")

func main() {
	err := run(context.Background(), dir("GRIDSWARM_IN", "/in"), dir("GRIDSWARM_OUT", "/out"), os.Getenv("GRIDSWARM_SEED"))
	switch {
	case err == nil:
	case errors.Is(err, trainer.ErrDiverged):
		fmt.Fprintln(os.Stderr, "mnist-wasm:", err, "(lower inner_optimizer.lr)")
		os.Exit(contract.ExitDiverged)
	case errors.Is(err, badInput):
		fmt.Fprintln(os.Stderr, "mnist-wasm:", err)
		os.Exit(contract.ExitBadInput)
	default:
		fmt.Fprintln(os.Stderr, "mnist-wasm:", err)
		os.Exit(1)
	}
}

func dir(env, def string) string {
	if d := os.Getenv(env); d != "" {
		return d
	}
	return def
}

// run trains one tasklet: in holds params.json, weights.safetensors and
// shard.safetensors; out receives delta.safetensors and metrics.json.
func run(ctx context.Context, in, out, seedText string) error {
	seed, err := strconv.ParseUint(seedText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: GRIDSWARM_SEED = %q is not a decimal uint64", badInput, seedText)
	}
	pb, err := os.ReadFile(filepath.Join(in, contract.ProgramParams))
	if err != nil {
		return fmt.Errorf("%w: %v", badInput, err)
	}
	p, err := contract.ParseParams(pb)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", badInput, contract.ProgramParams, err)
	}
	m := p.Model.Trainer()
	wb, err := os.ReadFile(filepath.Join(in, contract.ProgramWeights))
	if err != nil {
		return fmt.Errorf("%w: %v", badInput, err)
	}
	global, err := contract.DecodeParams(wb, m)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", badInput, contract.ProgramWeights, err)
	}
	sb, err := os.ReadFile(filepath.Join(in, contract.ProgramShard))
	if err != nil {
		return fmt.Errorf("%w: %v", badInput, err)
	}
	data, err := contract.DecodeShard(sb, p.Images, p.Labels, m)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", badInput, contract.ProgramShard, err)
	}
	cfg := trainer.TrainConfig{Steps: p.Steps, BatchSize: p.BatchSize, Optimizer: p.Optimizer.Trainer(), Seed: seed}
	local, met, err := trainer.Train(ctx, m, global, data, cfg, nil)
	if err != nil {
		return err
	}
	delta, err := trainer.Delta(global, local)
	if err != nil {
		return err
	}
	db, err := contract.EncodeParams(delta)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, contract.ProgramDelta), db, 0o644); err != nil {
		return err
	}
	mb, err := json.Marshal(contract.ProgramMetricsFile{Loss: float64(met.Loss), Samples: int64(met.Samples), Steps: int64(met.Steps)})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, contract.ProgramMetrics), mb, 0o644)
}
