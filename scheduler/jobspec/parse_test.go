package jobspec

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseFull(t *testing.T) {
	got, err := Parse(readFile(t, "testdata/full.yaml"))
	if err != nil {
		t.Fatalf("Parse(full.yaml): %v", err)
	}
	want := &Spec{
		Version: 1, Name: "mnist-mlp-full", Executor: ExecutorBuiltin,
		Model:            &Model{Kind: ModelMLP, Inputs: 784, Hidden: []int{256, 128}, Classes: 10},
		Dataset:          Dataset{CID: cidDataset, Train: "train", Validate: "validation", Test: "test"},
		Rounds:           25,
		TaskletsPerRound: 8,
		InnerSteps:       500,
		BatchSize:        128,
		InnerOptimizer:   InnerOptimizer{Kind: OptimizerAdam, LR: 0.0005, Beta1: 0.85, Beta2: 0.995, WeightDecay: 0.01},
		OuterOptimizer:   OuterOptimizer{Kind: OuterNesterov, LR: 0.5, Momentum: 0.8},
		Seed:             42,
		Resources:        Resources{GPUMemory: 6 << 30, Disk: 2e9},
		Deadline:         Duration(90 * time.Minute),
		MaxPricePerHour:  0.25,
		Verify:           Verify{Rate: 0.2, MinRateNewPeers: 0.6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(full.yaml)\n got %+v\nwant %+v", got, want)
	}
}

func TestParseDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Spec
	}{{
		name: "minimal softmax",
		in:   string(readFile(t, "testdata/minimal.yaml")),
		want: Spec{
			Version: 1, Name: "mnist", Executor: ExecutorBuiltin,
			Model:           &Model{Kind: ModelSoftmax, Inputs: 784, Classes: 10},
			Dataset:         Dataset{CID: cidDataset, Train: SplitTrain, Validate: SplitValidation},
			Rounds:          10,
			InnerSteps:      200,
			BatchSize:       64,
			InnerOptimizer:  InnerOptimizer{Kind: OptimizerAdam, LR: 0.001, Beta1: 0.9, Beta2: 0.999},
			OuterOptimizer:  OuterOptimizer{Kind: OuterNesterov, LR: 0.7, Momentum: 0.9},
			Seed:            seedFromName("mnist"),
			Resources:       Resources{Disk: 1 << 30},
			MaxPricePerHour: 0,
			Verify:          Verify{Rate: 0.08, MinRateNewPeers: 0.5},
		},
	}, {
		name: "wasm with sgd and average",
		in:   string(readFile(t, "testdata/wasm.yaml")),
		want: Spec{
			Version: 1, Name: "wasm-job", Executor: ExecutorWasm,
			Program:        &Program{CID: cidProgram, Args: []string{"--lr", "0.1", "--note", "héllo wörld"}},
			Dataset:        Dataset{CID: cidDataset, Train: SplitTrain, Validate: SplitTest},
			Rounds:         10,
			InnerSteps:     200,
			BatchSize:      64,
			InnerOptimizer: InnerOptimizer{Kind: OptimizerSGD, LR: 0.01, Momentum: 0.9},
			OuterOptimizer: OuterOptimizer{Kind: OuterAverage, LR: 1},
			Seed:           seedFromName("wasm-job"),
			Resources:      Resources{Disk: 1 << 30},
			Deadline:       Duration(45 * time.Minute),
			Verify:         Verify{Rate: 0.08, MinRateNewPeers: 0.5},
		},
	}, {
		name: "null takes the default, explicit zero stays",
		in:   okSimple + "rounds: ~\nseed: 0\nverify: {rate: 0}\ninner_optimizer: {beta1: 0}\n",
		want: Spec{
			Version: 1, Name: "t", Executor: ExecutorBuiltin,
			Model:          &Model{Kind: ModelMLP, Inputs: 784, Hidden: []int{128}, Classes: 10},
			Dataset:        Dataset{CID: cidDataset, Train: SplitTrain, Validate: SplitValidation},
			Rounds:         10,
			InnerSteps:     200,
			BatchSize:      64,
			InnerOptimizer: InnerOptimizer{Kind: OptimizerAdam, LR: 0.001, Beta1: 0, Beta2: 0.999},
			OuterOptimizer: OuterOptimizer{Kind: OuterNesterov, LR: 0.7, Momentum: 0.9},
			Seed:           0,
			Resources:      Resources{Disk: 1 << 30},
			Verify:         Verify{Rate: 0, MinRateNewPeers: 0.5},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.in)
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("Parse\n got %+v\nwant %+v", *got, tt.want)
			}
		})
	}
}

func TestSeedFromName(t *testing.T) {
	a, b := seedFromName("mnist"), seedFromName("mnist-2")
	if a == b || a == 0 {
		t.Errorf("seedFromName(mnist) = %d, seedFromName(mnist-2) = %d; want distinct non-zero", a, b)
	}
	if again := seedFromName("mnist"); again != a {
		t.Errorf("seedFromName(mnist) = %d then %d; want stable", a, again)
	}
}

// TestParseRefused checks that each bad spec is refused with an error
// naming the bad field and saying what is allowed.
func TestParseRefused(t *testing.T) {
	tests := []struct {
		name, in, path, msg string
	}{
		{"unknown executor", head + "executor: tpu\n" + okModel + okData, "executor", `"tpu" is not one of builtin, wasm, process`},
		{"missing dataset cid", head + okModel + "dataset: {train: train}\n", "dataset.cid", "is required"},
		{"missing dataset", head + okModel, "dataset.cid", "is required"},
		{"malformed dataset cid", head + okModel + "dataset: {cid: bafynotacid}\n", "dataset.cid", `"bafynotacid" is not a valid CID`},
		{"CIDv0 dataset", head + okModel + "dataset: {cid: " + cidDatasetV0 + "}\n", "dataset.cid", "is a CIDv0; use its CIDv1 form"},
		{"negative rounds", okSimple + "rounds: -1\n", "rounds", "must be between 1 and 10000, got -1"},
		{"zero rounds", okSimple + "rounds: 0\n", "rounds", "must be between 1 and 10000, got 0"},
		{"too many rounds", okSimple + "rounds: 10001\n", "rounds", "must be between 1 and 10000, got 10001"},
		{"fractional rounds", okSimple + "rounds: 10.5\n", "rounds", "must be an integer, got 10.5"},
		{"text rounds", okSimple + "rounds: ten\n", "rounds", `must be an integer, got "ten"`},
		{"unknown top-level field", okSimple + "epochs: 3\n", "epochs", "unknown field; a job spec takes version, name, executor, model"},
		{"unknown nested field", head + "model: {kind: mlp, inputs: 784, hidden: [128], classes: 10, layers: 2}\n" + okData, "model.layers", "unknown field; model takes kind, inputs, image, conv, hidden, classes"},
		{"misspelt field", okSimple + "round: 3\n", "round", "unknown field; did you mean rounds? a job spec takes"},
		{"misspelt nested field", okSimple + "inner_optimizer: {learning_rate: 0.1, wieght_decay: 0}\n", "inner_optimizer.wieght_decay", "did you mean weight_decay?"},
		{"odd unknown key", okSimple + "\"a\\nb\": 1\n", `"a\nb"`, "unknown field"},
		{"field given twice", okSimple + "rounds: 3\nrounds: 4\n", "rounds", "is given twice (first on line 5)"},
		{"merge key", okSimple + "x: &o {kind: sgd}\n", "x", "unknown field"},
		{"bad model with wasm", head + "executor: wasm\nmodel: {kind: rnn, inputs: 784, classes: 10}\n" + okProg + okData, "model.kind", `"rnn" is not one of mlp, softmax, cnn`},
		{"program with builtin", okSimple + okProg, "program", "is not allowed with executor builtin"},
		{"missing program for wasm", head + "executor: wasm\n" + okData, "program", "is required for executor wasm"},
		{"missing model for builtin", head + okData, "model", "is required for executor builtin"},
		{"malformed program cid", head + "executor: process\nprogram: {cid: xyz}\n" + okData, "program.cid", "is not a valid CID"},
		{"program arg with control character", head + "executor: wasm\nprogram: {cid: " + cidProgram + ", args: [\"a\\x07\"]}\n" + okData, "program.args[0]", "must be printable text"},
		{"model not a mapping", head + "model: mlp\n" + okData, "model", "must be a mapping with the fields kind, inputs, image, conv, hidden, classes"},
		{"unknown model kind", head + "model: {kind: rnn, inputs: 784, classes: 10}\n" + okData, "model.kind", `"rnn" is not one of mlp, softmax, cnn`},
		{"cnn without image", head + "model: {kind: cnn, inputs: 784, conv: [{filters: 8, size: 5}], classes: 10}\n" + okData, "model.image", "is required for kind cnn"},
		{"cnn image not inputs", head + "model: {kind: cnn, inputs: 784, image: {channels: 1, height: 28, width: 27}, conv: [{filters: 8, size: 5}], classes: 10}\n" + okData, "model.image", "1×28×27 is 756 values per sample but model.inputs is 784"},
		{"cnn without conv", head + "model: {kind: cnn, inputs: 784, image: {channels: 1, height: 28, width: 28}, classes: 10}\n" + okData, "model.conv", "kind cnn needs 1 to 8 stages"},
		{"cnn bad padding", head + "model: {kind: cnn, inputs: 784, image: {channels: 1, height: 28, width: 28}, conv: [{filters: 8, size: 5, padding: 5}], classes: 10}\n" + okData, "model.conv[0].padding", "must be between 0 and size-1 (4), got 5"},
		{"cnn bad filters", head + "model: {kind: cnn, inputs: 784, image: {channels: 1, height: 28, width: 28}, conv: [{filters: 8, size: 5}, {filters: 0, size: 3}], classes: 10}\n" + okData, "model.conv[1].filters", "must be between 1 and 1024, got 0"},
		{"cnn shrinks to nothing", head + "model: {kind: cnn, inputs: 784, image: {channels: 1, height: 28, width: 28}, conv: [{filters: 8, size: 5, pool: 8}, {filters: 8, size: 3, pool: 2}], classes: 10}\n" + okData, "model.conv[1]", "turns a 3×3 input into 1×1, too small for its 2×2 pool"},
		{"conv on an mlp", head + "model: {kind: mlp, inputs: 784, hidden: [8], conv: [{filters: 8, size: 5}], classes: 10}\n" + okData, "model.conv", "belongs to kind cnn only"},
		{"softmax with hidden", head + "model: {kind: softmax, inputs: 784, hidden: [128], classes: 10}\n" + okData, "model.hidden", "must be empty for kind softmax"},
		{"mlp without hidden", head + "model: {kind: mlp, inputs: 784, classes: 10}\n" + okData, "model.hidden", "kind mlp needs 1 to 8 hidden layers, got 0"},
		{"nine hidden layers", head + "model: {kind: mlp, inputs: 784, hidden: [1,1,1,1,1,1,1,1,1], classes: 10}\n" + okData, "model.hidden", "needs 1 to 8 hidden layers, got 9"},
		{"hidden width zero", head + "model: {kind: mlp, inputs: 784, hidden: [128, 0], classes: 10}\n" + okData, "model.hidden[1]", "must be between 1 and 4096, got 0"},
		{"hidden not a list", head + "model: {kind: mlp, inputs: 784, hidden: 128, classes: 10}\n" + okData, "model.hidden", "must be a list of integers, got 128"},
		{"one class", head + "model: {kind: softmax, inputs: 784, classes: 1}\n" + okData, "model.classes", "must be between 2 and 1048576, got 1"},
		{"too many parameters", head + "model: {kind: mlp, inputs: 1048576, hidden: [4096], classes: 10}\n" + okData, "model", "parameters, over the limit of 134217728"},
		{"bad lr", okSimple + "inner_optimizer: {lr: 0}\n", "inner_optimizer.lr", "must be greater than 0 and at most 10, got 0"},
		{"lr too large", okSimple + "inner_optimizer: {kind: sgd, lr: 11}\n", "inner_optimizer.lr", "got 11"},
		{"lr is NaN", okSimple + "inner_optimizer: {lr: .nan}\n", "inner_optimizer.lr", "got NaN"},
		{"lr is a string", okSimple + "inner_optimizer: {lr: \"0.1\"}\n", "inner_optimizer.lr", `must be a number, got "0.1"`},
		{"momentum with adam", okSimple + "inner_optimizer: {kind: adam, momentum: 0.9}\n", "inner_optimizer.momentum", "is only used by kind sgd"},
		{"beta1 with sgd", okSimple + "inner_optimizer: {kind: sgd, beta1: 0.9}\n", "inner_optimizer.beta1", "is only used by kind adam"},
		{"momentum 1", okSimple + "inner_optimizer: {kind: sgd, momentum: 1}\n", "inner_optimizer.momentum", "must be at least 0 and less than 1, got 1"},
		{"unknown optimizer", okSimple + "inner_optimizer: {kind: lion}\n", "inner_optimizer.kind", `"lion" is not one of sgd, adam`},
		{"average with lr", okSimple + "outer_optimizer: {kind: average, lr: 0.7}\n", "outer_optimizer.lr", "must be 1 for kind average"},
		{"outer momentum negative", okSimple + "outer_optimizer: {momentum: -0.1}\n", "outer_optimizer.momentum", "got -0.1"},
		{"tasklets many", okSimple + "tasklets_per_round: many\n", "tasklets_per_round", `must be "auto" or an integer between 1 and 1024, got "many"`},
		{"tasklets zero", okSimple + "tasklets_per_round: 0\n", "tasklets_per_round", "got 0"},
		{"tasklets too many", okSimple + "tasklets_per_round: 2000\n", "tasklets_per_round", "got 2000"},
		{"bad size string", okSimple + "resources: {disk: 6 gigs}\n", "resources.disk", `must be a size in bytes: an integer or a string like "6GiB"`},
		{"size unit unknown", okSimple + "resources: {gpu_memory: 6PB}\n", "resources.gpu_memory", `unknown unit "PB"`},
		{"negative size", okSimple + "resources: {disk: -1}\n", "resources.disk", "got -1"},
		{"gpu memory too large", okSimple + "resources: {gpu_memory: 2TiB}\n", "resources.gpu_memory", "must be at most 1TiB"},
		{"bad duration", okSimple + "deadline: 2 days\n", "deadline", `must be a duration like "90m" or "2h"`},
		{"duration without unit", okSimple + "deadline: 90\n", "deadline", "got 90"},
		{"negative deadline", okSimple + "deadline: -1h\n", "deadline", "must be between 1m and 8760h"},
		{"deadline too short", okSimple + "deadline: 30s\n", "deadline", "got 30s"},
		{"version 2", "version: 2\nname: t\n" + okModel + okData, "version", "must be 1, got 2"},
		{"version missing", "name: t\n" + okModel + okData, "version", "is required and must be 1"},
		{"name with spaces", "version: 1\nname: my job\n" + okModel + okData, "name", `"my job" is not allowed: use 1 to 64 characters of a-z, 0-9 and -`},
		{"name uppercase", "version: 1\nname: MNIST\n" + okModel + okData, "name", "is not allowed"},
		{"name too long", "version: 1\nname: " + strings.Repeat("a", 65) + "\n" + okModel + okData, "name", "is not allowed"},
		{"name missing", "version: 1\n" + okModel + okData, "name", "is required"},
		{"unknown split", head + okModel + "dataset: {cid: " + cidDataset + ", train: training}\n", "dataset.train", `"training" is not one of train, validation, test`},
		{"validate equals train", head + okModel + "dataset: {cid: " + cidDataset + ", validate: train}\n", "dataset.validate", `must differ from dataset.train, both are "train"`},
		{"test equals train", head + okModel + "dataset: {cid: " + cidDataset + ", test: train}\n", "dataset.test", "must differ from dataset.train"},
		{"negative seed", okSimple + "seed: -1\n", "seed", "must be an integer between 0 and 18446744073709551615, got -1"},
		{"negative price", okSimple + "max_price_per_hour: -1\n", "max_price_per_hour", "must be a number at least 0"},
		{"infinite price", okSimple + "max_price_per_hour: .inf\n", "max_price_per_hour", "got +Inf"},
		{"verify rate above 1", okSimple + "verify: {rate: 1.5}\n", "verify.rate", "must be between 0 and 1, got 1.5"},
		{"oversized input", okSimple + "# " + strings.Repeat("x", MaxSpecSize) + "\n", "", "over the limit of 1048576"},
		{"empty input", "", "", "job spec is empty"},
		{"only a comment", "# nothing\n", "", "job spec is empty"},
		{"not a mapping", "- version: 1\n", "", "must be a YAML mapping"},
		{"syntax error", "version: 1\nname: [t\n", "", "cannot parse YAML"},
		{"two documents", okSimple + "---\n" + okSimple, "", "more than one YAML document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.in))
			if err == nil {
				t.Fatalf("Parse accepted the spec: %+v", s)
			}
			if s != nil {
				t.Errorf("Parse returned a spec with its error: %+v", s)
			}
			fes := fieldErrs(t, err)
			i := slices.IndexFunc(fes, func(fe *FieldError) bool {
				return fe.Path == tt.path && strings.Contains(fe.Msg, tt.msg)
			})
			if i < 0 {
				t.Fatalf("Parse error = %v\nwant an error on %q containing %q", err, tt.path, tt.msg)
			}
		})
	}
}

func TestParseManyErrorsAtOnce(t *testing.T) {
	in := `version: 2
name: My Job
executor: builtin
model:
  kind: mlp
  inputs: 784
  hidden: [128, 0]
  classes: 10
  layers: 3
dataset:
  cid: nope
rounds: 0
tasklets_per_round: many
inner_optimizer:
  lr: 20
`
	_, err := Parse([]byte(in))
	if err == nil {
		t.Fatal("Parse accepted a spec with seven problems")
	}
	got := fieldErrs(t, err)
	want := []FieldError{
		{Path: "version", Line: 1},
		{Path: "name", Line: 2},
		{Path: "model.hidden[1]", Line: 7},
		{Path: "model.layers", Line: 9},
		{Path: "dataset.cid", Line: 11},
		{Path: "rounds", Line: 12},
		{Path: "tasklets_per_round", Line: 13},
		{Path: "inner_optimizer.lr", Line: 15},
	}
	if len(got) != len(want) {
		t.Fatalf("Parse gave %d errors %q, want %d:\n%v", len(got), paths(got), len(want), err)
	}
	for i := range want {
		if got[i].Path != want[i].Path || got[i].Line != want[i].Line {
			t.Errorf("error %d = %q on line %d, want %q on line %d", i, got[i].Path, got[i].Line, want[i].Path, want[i].Line)
		}
	}
	if first := strings.SplitN(err.Error(), "\n", 2)[0]; first != "line 1: version: must be 1, got 2" {
		t.Errorf("first line of the error = %q, want %q", first, "line 1: version: must be 1, got 2")
	}
}

func TestParseMissingFieldLineIsItsParent(t *testing.T) {
	_, err := Parse([]byte(head + okModel + "dataset:\n  train: train\n"))
	fes := fieldErrs(t, err)
	if len(fes) != 1 || fes[0].Path != "dataset.cid" || fes[0].Line != 4 {
		t.Fatalf("Parse error = %v; want only dataset.cid on line 4 (the dataset key)", err)
	}
}

func TestParseAcceptsJSONAndAliases(t *testing.T) {
	tests := []struct{ name, in string }{
		{"json", `{"version":1,"name":"t","model":{"kind":"mlp","inputs":784,"hidden":[128],"classes":10},"dataset":{"cid":"` + cidDataset + `"}}`},
		{"anchors", "version: 1\nname: t\nmodel: &m {kind: mlp, inputs: 784, hidden: [128], classes: 10}\ndataset: {cid: " + cidDataset + "}\n"},
		{"alias", "version: &v 1\nname: t\nmodel: {kind: mlp, inputs: 784, hidden: [128], classes: 10}\ndataset: {cid: " + cidDataset + "}\nrounds: *v\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.in)
			if s.Model == nil || s.Model.Hidden[0] != 128 || s.Dataset.CID != cidDataset {
				t.Errorf("Parse = %+v, want the MLP on the test dataset", s)
			}
		})
	}
}

func TestParseNormalisesCIDs(t *testing.T) {
	for _, in := range []string{cidDataset, cidDatasetB36, cidDatasetB58} {
		s := mustParse(t, head+okModel+"dataset: {cid: "+in+"}\n")
		if s.Dataset.CID != cidDataset {
			t.Errorf("dataset.cid %s parsed to %s, want %s", in, s.Dataset.CID, cidDataset)
		}
	}
}

func TestParseCapsErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(okSimple)
	for i := range 200 {
		fmt.Fprintf(&b, "unknown%d: 1\n", i)
	}
	_, err := Parse([]byte(b.String()))
	fes := fieldErrs(t, err)
	if len(fes) != maxErrors+1 {
		t.Fatalf("Parse gave %d errors, want %d and a summary", len(fes), maxErrors)
	}
	if last := fes[maxErrors]; last.Path != "" || last.Msg != "and 150 more problems; fix these first" {
		t.Errorf("last error = %v, want the count of the 150 not shown", last)
	}
}
