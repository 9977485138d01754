package jobspec_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gridswarm/gridswarm/scheduler/jobspec"
)

const (
	examplePath        = "../../examples/jobs/mnist-mlp.yaml"
	examplePlaceholder = "REPLACE_WITH_DATASET_CID"
	exampleCID         = "bafybeiax3qvjqatf55xcna4hu5ue4guyoc6szxutkpjyyf7fyqkhlf2hki"
	programPlaceholder = "REPLACE_WITH_PROGRAM_CID" // program jobs' program.cid
	programCID         = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
)

// TestExampleJobsParse keeps every examples/jobs/*.yaml valid once its
// placeholders are filled in.
func TestExampleJobsParse(t *testing.T) {
	files, err := filepath.Glob("../../examples/jobs/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example jobs found (%v)", err)
	}
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("cannot read example job: %v", err)
		}
		raw = bytes.ReplaceAll(raw, []byte(programPlaceholder), []byte(programCID))
		if _, err := jobspec.Parse(bytes.ReplaceAll(raw, []byte(examplePlaceholder), []byte(exampleCID))); err != nil {
			t.Errorf("%s: %v", filepath.Base(name), err)
		}
	}
}

// TestExampleJob keeps examples/jobs/mnist-mlp.yaml valid and as
// documented: it parses once the demo fills in the dataset CID, and is
// refused on dataset.cid before.
func TestExampleJob(t *testing.T) {
	raw, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatalf("cannot read the example job: %v", err)
	}
	if bytes.Count(raw, []byte(examplePlaceholder)) != 2 { // the comment and dataset.cid
		t.Fatalf("example job should name %s twice (comment and dataset.cid)", examplePlaceholder)
	}
	_, err = jobspec.Parse(raw)
	fes := jobspec.FieldErrors(err)
	if len(fes) != 1 || fes[0].Path != "dataset.cid" {
		t.Errorf("Parse(example with placeholder) = %v, want one error on dataset.cid", err)
	}

	s, err := jobspec.Parse(bytes.ReplaceAll(raw, []byte(examplePlaceholder), []byte(exampleCID)))
	if err != nil {
		t.Fatalf("Parse(example with a CID): %v", err)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"name", s.Name, "mnist-mlp"},
		{"executor", s.Executor, jobspec.ExecutorBuiltin},
		{"model", *s.Model, jobspec.Model{Kind: jobspec.ModelMLP, Inputs: 784, Hidden: []int{128}, Classes: 10}},
		{"dataset", s.Dataset, jobspec.Dataset{CID: exampleCID, Train: "train", Validate: "validation", Test: "test"}},
		{"rounds", s.Rounds, 10},
		{"tasklets_per_round", s.TaskletsPerRound, jobspec.AutoTasklets},
		{"inner_steps", s.InnerSteps, 200},
		{"batch_size", s.BatchSize, 64},
		{"inner_optimizer", s.InnerOptimizer, jobspec.InnerOptimizer{Kind: "adam", LR: 0.001, Beta1: 0.9, Beta2: 0.999}},
		{"outer_optimizer", s.OuterOptimizer, jobspec.OuterOptimizer{Kind: "nesterov", LR: 0.7, Momentum: 0.9}},
		{"resources", s.Resources, jobspec.Resources{Disk: 1 << 30}},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("example %s = %+v, want %+v", c.field, c.got, c.want)
		}
	}
}

func ExampleParse() {
	_, err := jobspec.Parse([]byte(`version: 1
name: My Job
executor: tpu
dataset:
  cid: bafy-not-a-cid
rounds: 0
`))
	for _, fe := range jobspec.FieldErrors(err) {
		fmt.Println(fe.Line, fe.Path)
	}
	// Output:
	// 2 name
	// 3 executor
	// 5 dataset.cid
	// 6 rounds
}
