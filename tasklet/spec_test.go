package tasklet

import (
	"encoding/json"
	"strings"
	"testing"
)

// goldenSpec is fixed so its canonical form and CID can be pinned.
func goldenSpec(t testing.TB) Spec {
	s := testSpec(t)
	s.Deadline = 1767225600000
	return s
}

// TestSpecCanonicalGolden pins the encoding the spec CID hashes: if it
// fails, coordinators and workers of different versions disagree on CIDs.
func TestSpecCanonicalGolden(t *testing.T) {
	const (
		// The CID was cross-checked with Python's hashlib and base32.
		wantJSON = `{"v":1,"executor":"builtin","job":"mnist-softmax","round":2,"index":5,"inputs":[{"name":"weights","cid":"bafkreie2ckidrwnablwqz5vh5iczzjikqe2esbq2xb4erty2cpvp34z3fq"},{"name":"shard","cid":"bafkreifen6r2mwokegkviyhadc6lnfyu7wy2ijac4dyqwx6335jvoaiugq"}],"params":{"model":"softmax","steps":50,"lr":0.1},"seed":42,"deadline":1767225600000}`
		wantCID  = "bafkreie2eaod5bdchtptvyuplgrdmgkshrg75zowze6achjf4svul35jru"
	)
	s := goldenSpec(t)
	b, err := s.Canonical()
	if err != nil {
		t.Fatalf("Canonical: %v", err)
	}
	if string(b) != wantJSON {
		t.Errorf("Canonical =\n%s\nwant\n%s", b, wantJSON)
	}
	c, err := s.CID()
	if err != nil {
		t.Fatalf("CID: %v", err)
	}
	if c.String() != wantCID {
		t.Errorf("CID = %s, want %s", c, wantCID)
	}
}

func TestSpecCIDIgnoresFormatting(t *testing.T) {
	want, err := goldenSpec(t).CID()
	if err != nil {
		t.Fatalf("CID: %v", err)
	}
	in := goldenSpec(t).Inputs
	// Same spec: keys reordered, whitespace everywhere, params spaced out.
	reordered := `{ "deadline": 1767225600000, "seed": 42,
		"params": { "model" : "softmax", "steps" : 50, "lr" : 0.1 },
		"inputs": [ {"cid":"` + in[0].CID + `","name":"weights"}, {"name":"shard","cid":"` + in[1].CID + `"} ],
		"index": 5, "round": 2, "job": "mnist-softmax", "executor": "builtin", "v": 1 }`
	s, err := ParseSpec([]byte(reordered))
	if err != nil {
		t.Fatalf("ParseSpec: %v", err)
	}
	got, err := s.CID()
	if err != nil {
		t.Fatalf("CID: %v", err)
	}
	if !got.Equals(want) {
		t.Errorf("CID of the reformatted spec = %s, want %s", got, want)
	}
}

func TestSpecCIDCoversEveryField(t *testing.T) {
	base, err := goldenSpec(t).CID()
	if err != nil {
		t.Fatalf("CID: %v", err)
	}
	edits := map[string]func(*Spec){
		"executor": func(s *Spec) { s.Executor = ExecutorWasm },
		"job":      func(s *Spec) { s.JobID = "other" },
		"round":    func(s *Spec) { s.Round++ },
		"index":    func(s *Spec) { s.Index++ },
		"inputs":   func(s *Spec) { s.Inputs = s.Inputs[:1] },
		"order":    func(s *Spec) { s.Inputs[0], s.Inputs[1] = s.Inputs[1], s.Inputs[0] },
		"params":   func(s *Spec) { s.Params = []byte(`{"model":"mlp"}`) },
		"seed":     func(s *Spec) { s.Seed++ },
		"deadline": func(s *Spec) { s.Deadline++ },
	}
	for name, edit := range edits {
		s := goldenSpec(t)
		edit(&s)
		got, err := s.CID()
		if err != nil {
			t.Fatalf("CID after changing %s: %v", name, err)
		}
		if got.Equals(base) {
			t.Errorf("changing %s left the CID at %s", name, got)
		}
	}
}

func TestSpecValidate(t *testing.T) {
	tests := []struct {
		field string
		edit  func(*Spec)
	}{
		{"spec.v", func(s *Spec) { s.Version = 2 }},
		{"spec.executor", func(s *Spec) { s.Executor = "" }},
		{"spec.executor", func(s *Spec) { s.Executor = "Python 3" }},
		{"spec.job", func(s *Spec) { s.JobID = "" }},
		{"spec.job", func(s *Spec) { s.JobID = "a\nb" }},
		{"spec.job", func(s *Spec) { s.JobID = strings.Repeat("j", 129) }},
		{"spec.index", func(s *Spec) { s.Index = -1 }},
		{"spec.deadline", func(s *Spec) { s.Deadline = 0 }},
		{"spec.inputs", func(s *Spec) { s.Inputs = make([]Input, MaxInputs+1) }},
		{"spec.inputs[1].name", func(s *Spec) { s.Inputs[1].Name = "" }},
		{"spec.inputs[1].name", func(s *Spec) { s.Inputs[1].Name = s.Inputs[0].Name }},
		{"spec.inputs[0].cid", func(s *Spec) { s.Inputs[0].CID = "QmNotACid" }},
		{"spec.inputs[0].cid", func(s *Spec) { s.Inputs[0].CID = strings.Repeat("b", 300) }},
		{"spec.params", func(s *Spec) { s.Params = []byte(`{"a":`) }},
		{"spec.params", func(s *Spec) { s.Params = []byte(`"` + strings.Repeat("p", MaxParamsSize) + `"`) }},
	}
	for _, tt := range tests {
		s := testSpec(t)
		tt.edit(&s)
		err := s.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
			t.Errorf("Validate with bad %s: err = %v, want one starting %q", tt.field, err, tt.field+":")
		}
	}
	if err := testSpec(t).Validate(); err != nil {
		t.Errorf("Validate(testSpec) = %v, want nil", err)
	}
	noInputs := testSpec(t)
	noInputs.Inputs, noInputs.Params = nil, nil
	if err := noInputs.Validate(); err != nil {
		t.Errorf("Validate(spec without inputs or params) = %v, want nil", err)
	}
}

func TestParseSpecRejects(t *testing.T) {
	good, err := goldenSpec(t).Canonical()
	if err != nil {
		t.Fatalf("Canonical: %v", err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"oversized", `{"job":"` + strings.Repeat("x", MaxSpecSize) + `"}`, "limit"},
		{"unknown field", strings.Replace(string(good), `{"v":1,`, `{"v":1,"gpu":true,`, 1), "unknown field"},
		{"trailing data", string(good) + `{}`, "after"},
		{"invalid", `{"v":1,"executor":"builtin"}`, "spec.deadline"},
		{"not json", `v=1`, "decode"},
	}
	for _, tt := range tests {
		if _, err := ParseSpec([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSpec(%s): err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	good, err := goldenSpec(f).Canonical()
	if err != nil {
		f.Fatalf("Canonical: %v", err)
	}
	f.Add(good)
	f.Add([]byte(`{"v":1,"executor":"wasm","job":"j","inputs":[],"deadline":1}`))
	f.Add([]byte(`{"v":1,"params":{"a":[1,2,{"b":null}]}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		s, err := ParseSpec(in)
		if err != nil {
			return
		}
		// An accepted spec has a canonical form that parses back to the
		// same CID, and canonical bytes are a fixed point.
		canon, err := s.Canonical()
		if err != nil {
			t.Fatalf("Canonical of an accepted spec: %v", err)
		}
		again, err := ParseSpec(canon)
		if err != nil {
			t.Fatalf("ParseSpec(Canonical(s)): %v\n%s", err, canon)
		}
		canon2, err := again.Canonical()
		if err != nil {
			t.Fatalf("Canonical: %v", err)
		}
		if string(canon) != string(canon2) {
			t.Fatalf("canonical form not stable:\n%s\n%s", canon, canon2)
		}
		c1, err1 := s.CID()
		c2, err2 := again.CID()
		if err1 != nil || err2 != nil || !c1.Equals(c2) {
			t.Fatalf("CIDs differ after a canonical round trip: %v %v (%v, %v)", c1, c2, err1, err2)
		}
		if !json.Valid(canon) {
			t.Fatalf("canonical form is not JSON: %s", canon)
		}
	})
}
