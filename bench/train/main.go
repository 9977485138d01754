// Command train is the single-process reference for the swarm: it trains
// the demo's model (examples/jobs/mnist-mlp.yaml) on the same MNIST shards
// for the same number of samples in one process, and prints the test
// accuracy and throughput to compare with `gridswarm demo`.
//
//	go run ./bench/train [-rounds 10 -tasklets 4]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gridswarm/gridswarm/datagrid/dataset"
	"github.com/gridswarm/gridswarm/datagrid/dataset/mnistdata"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

func main() {
	rounds := flag.Int("rounds", 10, "rounds of the swarm job to match")
	tasklets := flag.Int("tasklets", 4, "tasklets per round of the swarm job to match")
	steps := flag.Int("steps", 200, "inner steps per tasklet")
	batch := flag.Int("batch", 64, "batch size")
	flag.Parse()
	if err := run(*rounds, *tasklets, *steps, *batch); err != nil {
		fmt.Fprintln(os.Stderr, "train:", err)
		os.Exit(1)
	}
}

func run(rounds, tasklets, steps, batch int) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "gridswarm-train-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m, err := dataset.BuildMNISTFS(ctx, mnistdata.Files(), "built-in MNIST", dir, dataset.MNISTOptions{})
	if err != nil {
		return err
	}
	model := trainer.Model{Kind: trainer.KindMLP, Inputs: 784, Hidden: []int{128}, Classes: 10}
	train, err := load(dir, m, dataset.SplitTrain, model)
	if err != nil {
		return err
	}
	test, err := load(dir, m, dataset.SplitTest, model)
	if err != nil {
		return err
	}
	p, err := trainer.Init(model, 1)
	if err != nil {
		return err
	}
	total := rounds * tasklets * steps
	cfg := trainer.TrainConfig{Steps: total, BatchSize: batch, Optimizer: trainer.Adam(0.001), Seed: 1}
	start := time.Now()
	p, met, err := trainer.Train(ctx, model, p, train, cfg, nil)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	_, acc, err := trainer.Evaluate(model, p, test)
	if err != nil {
		return err
	}
	fmt.Printf("single process: %d samples (%.1f epochs) in %.1f s, %.0f samples/s, test accuracy %.2f%%\n",
		met.Samples, float64(met.Samples)/float64(train.N), secs, float64(met.Samples)/secs, acc*100)
	return nil
}

// load concatenates a split's shards.
func load(dir string, m *dataset.Manifest, split string, model trainer.Model) (trainer.Data, error) {
	var out trainer.Data
	for _, s := range m.SplitShards(split) {
		b, err := os.ReadFile(filepath.Join(dir, s.File))
		if err != nil {
			return out, err
		}
		d, err := contract.DecodeShard(b, "images", "labels", model)
		if err != nil {
			return out, err
		}
		out.X = append(out.X, d.X...)
		out.X8 = append(out.X8, d.X8...)
		out.Y = append(out.Y, d.Y...)
		out.N += d.N
	}
	return out, nil
}
