package jobspec

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"reflect"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestCanonicalGolden pins the canonical bytes: they are persisted and
// hashed, so any change to them must be deliberate (rerun with -update).
func TestCanonicalGolden(t *testing.T) {
	for _, name := range []string{"full", "minimal", "wasm"} {
		t.Run(name, func(t *testing.T) {
			s, err := Parse(readFile(t, "testdata/"+name+".yaml"))
			if err != nil {
				t.Fatalf("Parse(%s.yaml): %v", name, err)
			}
			got, err := s.Canonical()
			if err != nil {
				t.Fatalf("Canonical: %v", err)
			}
			golden := "testdata/" + name + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatalf("cannot update golden file: %v", err)
				}
			}
			want := bytes.TrimSuffix(readFile(t, golden), []byte("\n"))
			if !bytes.Equal(got, want) {
				t.Errorf("Canonical(%s.yaml)\n got %s\nwant %s", name, got, want)
			}
		})
	}
}

// TestCanonicalIgnoresSpelling: the same job written differently has the
// same canonical bytes.
func TestCanonicalIgnoresSpelling(t *testing.T) {
	a := "version: 1\nname: t\nmodel: {kind: mlp, inputs: 784, hidden: [128], classes: 10}\ndataset: {cid: " + cidDataset + "}\nresources: {disk: 1GiB}\nrounds: 10\n"
	b := `# reordered, block style, other units and CID base, defaults spelt out
rounds: 0xa
resources:
  disk: 1073741824
dataset:
  cid: ` + cidDatasetB36 + `
  train: train
model:
  classes: 10
  hidden:
    - 128
  inputs: 784
  kind: mlp
name: t
version: 1
verify: {rate: 0.08}
inner_optimizer: {weight_decay: -0.0}
`
	ca, cb := canonical(t, a), canonical(t, b)
	if !bytes.Equal(ca, cb) {
		t.Errorf("canonical bytes differ:\n%s\n%s", ca, cb)
	}
}

func TestCanonicalNegativeZero(t *testing.T) {
	s := mustParse(t, okSimple+"inner_optimizer: {weight_decay: -0.0}\n")
	c, err := s.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(c, []byte("-0")) {
		t.Errorf("Canonical wrote a negative zero: %s", c)
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	for _, name := range []string{"full", "minimal", "wasm"} {
		s, err := Parse(readFile(t, "testdata/"+name+".yaml"))
		if err != nil {
			t.Fatalf("Parse(%s.yaml): %v", name, err)
		}
		c, _ := s.Canonical()
		again, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(Canonical(%s)): %v\n%s", name, err, c)
		}
		if !reflect.DeepEqual(s, again) {
			t.Errorf("%s: Parse(Canonical) = %+v, want %+v", name, again, s)
		}
		var viaJSON Spec
		dec := json.NewDecoder(bytes.NewReader(c))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&viaJSON); err != nil || !reflect.DeepEqual(&viaJSON, s) {
			t.Errorf("%s: json.Unmarshal(Canonical) = %+v, %v; want %+v", name, viaJSON, err, s)
		}
	}
}

func TestCanonicalRefusesNaN(t *testing.T) {
	s := goodSpec()
	s.MaxPricePerHour = math.NaN()
	if _, err := s.Canonical(); err == nil {
		t.Error("Canonical of a NaN price succeeded, want an error")
	}
}

func canonical(t *testing.T, in string) []byte {
	t.Helper()
	c, err := mustParse(t, in).Canonical()
	if err != nil {
		t.Fatalf("Canonical: %v", err)
	}
	return c
}
