package contract

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/trainer"
)

// A cnn travels through the params JSON and the weights file intact; an
// mlp's params stay as they were before cnn existed (no image, no conv),
// so its tasklet CIDs do not change.
func TestCNNParamsRoundTrip(t *testing.T) {
	js := `{"model":{"kind":"cnn","inputs":784,"image":{"channels":1,"height":28,"width":28},
	  "conv":[{"filters":4,"size":5,"padding":2,"pool":2},{"filters":8,"size":3,"padding":1,"pool":2}],"classes":10},
	  "steps":3,"batch_size":8,"optimizer":{"kind":"adam","lr":0.001}}`
	p, err := ParseParams([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	m := p.Model.Trainer()
	want := trainer.Model{Kind: trainer.KindCNN, Inputs: 784, Classes: 10, Image: trainer.Image{Channels: 1, Height: 28, Width: 28},
		Conv: []trainer.Conv{{Filters: 4, Size: 5, Padding: 2, Pool: 2}, {Filters: 8, Size: 3, Padding: 1, Pool: 2}}}
	if m.Kind != want.Kind || m.Image != want.Image || len(m.Conv) != 2 || m.Conv[1] != want.Conv[1] {
		t.Fatalf("model = %+v, want %+v", m, want)
	}
	w, err := trainer.Init(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := EncodeParams(w)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeParams(b, m)
	if err != nil {
		t.Fatal(err)
	}
	if back.Digest() != w.Digest() {
		t.Errorf("weights changed through safetensors")
	}
	if _, err := ParseParams([]byte(strings.Replace(js, `"width":28`, `"width":27`, 1))); err == nil || !strings.Contains(err.Error(), "inputs") {
		t.Errorf("image that does not multiply to inputs: err = %v", err)
	}
	mlp, _ := json.Marshal(Params{Model: Model{Kind: "mlp", Inputs: 784, Hidden: []int{128}, Classes: 10}, Steps: 1, BatchSize: 1})
	if strings.Contains(string(mlp), "image") || strings.Contains(string(mlp), "conv") {
		t.Errorf("mlp params grew cnn fields: %s", mlp)
	}
}
