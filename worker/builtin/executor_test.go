package builtin

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
	"github.com/gridswarm/gridswarm/internal/memstore"
	"github.com/gridswarm/gridswarm/tasklet"
	"github.com/gridswarm/gridswarm/trainer"
	"github.com/gridswarm/gridswarm/trainer/contract"
)

// memStore is the data grid reduced to a map: equal bytes, equal CIDs.
type memStore = memstore.Store

var model = contract.Model{Kind: "mlp", Inputs: 16, Hidden: []int{8}, Classes: 3}

// shard makes n samples of three separable blobs, stored as U8 like MNIST.
func shard(t *testing.T, n int) []byte {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]uint8, n*model.Inputs)
	y := make([]uint8, n)
	for i := range n {
		y[i] = uint8(i % 3)
		for j := range model.Inputs {
			v := 40 + r.IntN(40)
			if j%3 == int(y[i]) {
				v += 150
			}
			x[i*model.Inputs+j] = uint8(v)
		}
	}
	b, err := safetensors.Encode(&safetensors.File{Tensors: []safetensors.Tensor{
		safetensors.FromU8("images", []int64{int64(n), int64(model.Inputs)}, x),
		safetensors.FromU8("labels", []int64{int64(n)}, y),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func setup(t *testing.T) (*memStore, tasklet.Spec) {
	t.Helper()
	st := memstore.New()
	w0, err := trainer.Init(model.Trainer(), 7)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := contract.EncodeParams(w0)
	if err != nil {
		t.Fatal(err)
	}
	wc, _ := st.AddBytes(context.Background(), "w", wb)
	sc, _ := st.AddBytes(context.Background(), "s", shard(t, 300))
	params, _ := json.Marshal(contract.Params{Model: model, Steps: 60, BatchSize: 16, Optimizer: contract.Optimizer{Kind: "sgd", LR: 0.1, Momentum: 0.9}})
	return st, tasklet.Spec{Version: 1, Executor: "builtin", JobID: "j", Inputs: []tasklet.Input{{Name: contract.InputWeights, CID: wc.String()}, {Name: contract.InputShard, CID: sc.String()}}, Params: params, Seed: 11}
}

func TestRunIsReproducibleAndLearns(t *testing.T) {
	st, spec := setup(t)
	e := New(st, 2)
	first, err := e.Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := New(st, 0).Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.CID != second.CID {
		t.Errorf("same tasklet gave outputs %s and %s", first.CID, second.CID)
	}
	if first.Samples != 60*16 {
		t.Errorf("samples = %d, want %d", first.Samples, 60*16)
	}
	oc, _ := cid.Decode(first.CID)
	ob, _ := st.ReadFile(context.Background(), oc, 1<<20)
	trained, err := contract.DecodeParams(ob, model.Trainer())
	if err != nil {
		t.Fatal(err)
	}
	data, _ := contract.DecodeShard(shard(t, 300), "images", "labels", model.Trainer())
	if _, acc, _ := trainer.Evaluate(model.Trainer(), trained, data); acc < 0.9 {
		t.Errorf("accuracy after training = %.3f, want > 0.9", acc)
	}
	spec.Seed++
	third, _ := e.Run(context.Background(), spec, nil)
	if third.CID == first.CID {
		t.Error("a different seed gave the same output")
	}
}

func TestRunRefusesBadTasklets(t *testing.T) {
	st, good := setup(t)
	tests := []struct {
		name string
		edit func(*tasklet.Spec)
		want string
	}{
		{"no shard", func(s *tasklet.Spec) { s.Inputs = s.Inputs[:1] }, `input "shard"`},
		{"bad params", func(s *tasklet.Spec) { s.Params = json.RawMessage(`{"model":{"kind":"cnn"}}`) }, "model"},
		{"weights for another model", func(s *tasklet.Spec) {
			s.Params = json.RawMessage(`{"model":{"kind":"mlp","inputs":16,"hidden":[9],"classes":3},"steps":1,"batch_size":1,"optimizer":{"kind":"sgd","lr":0.1}}`)
		}, "weights"},
		{"shard as weights", func(s *tasklet.Spec) { s.Inputs[0].CID = s.Inputs[1].CID }, "weights"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := good
			spec.Inputs = append([]tasklet.Input(nil), good.Inputs...)
			tt.edit(&spec)
			_, err := New(st, 1).Run(context.Background(), spec, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run = %v, want an error about %q", err, tt.want)
			}
		})
	}
}
