package jobspec

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParseJSON feeds job specs in their JSON form, the form a JSON-RPC
// client (job_submit) or a program other than our CLI sends, and checks:
//   - Parse never panics and every error it returns is made of *FieldError;
//   - JSON is YAML here: a JSON spec Parse accepts is accepted again, equal,
//     after any change of insignificant whitespace (compacted or indented);
//   - the text and numbers Parse read agree with what encoding/json reads
//     from the same bytes (escapes, surrogate pairs, big numbers);
//   - the canonical JSON of an accepted spec decodes with encoding/json
//     alone (strict, no YAML) to an equal Spec, so a JSON client reads back
//     exactly what the daemon stored.
func FuzzParseJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.golden.json")
	for _, name := range files {
		f.Add(readFile(f, name))
	}
	for _, s := range []string{
		`{"version":1,"name":"t","model":{"kind":"mlp","inputs":784,"hidden":[128],"classes":10},"dataset":{"cid":"` + cidDataset + `"}}`,
		`{"version":1,"name":"t\u00e9\ud83d\ude00","model":{"kind":"softmax","inputs":4,"classes":2},"dataset":{"cid":"` + cidDatasetV0 + `"},"deadline":"2h","resources":{"disk":"1.5GB"}}`,
		`{"version":1,"name":"t","rounds":1e1,"seed":18446744073709551615,"model":{"kind":"softmax","inputs":4,"classes":2},"dataset":{"cid":"` + cidDataset + `"}}`,
		"{\"version\":1,\t\"name\" : \"t\"}",
		`{"name":"\/x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			fieldErrs(t, err)
			return
		}
		if json.Valid(b) {
			checkJSONForms(t, b, s)
		}
		c, err := s.Canonical()
		if err != nil {
			t.Fatalf("Canonical of an accepted spec: %v", err)
		}
		var strict Spec
		dec := json.NewDecoder(bytes.NewReader(c))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&strict); err != nil {
			t.Fatalf("encoding/json cannot read the canonical spec: %v\n%s", err, c)
		}
		if !reflect.DeepEqual(strict.normalized(), s.normalized()) {
			t.Fatalf("encoding/json reads the canonical spec as\n%+v\nParse read\n%+v", strict, *s)
		}
	})
}

// checkJSONForms re-spaces a JSON spec Parse accepted and compares.
func checkJSONForms(t *testing.T, b []byte, s *Spec) {
	t.Helper()
	var compact, indented bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatalf("json.Compact of valid JSON: %v", err)
	}
	if err := json.Indent(&indented, b, "", "\t"); err != nil {
		t.Fatalf("json.Indent of valid JSON: %v", err)
	}
	for _, form := range []*bytes.Buffer{&compact, &indented} {
		again, err := Parse(form.Bytes())
		if err != nil {
			t.Fatalf("Parse accepts\n%s\nbut not the same JSON spaced differently:\n%s\n%v", b, form.Bytes(), err)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("respacing the JSON changed the spec:\n%+v\n%+v", again, s)
		}
	}
	var js struct {
		Name   *string `json:"name"`
		Rounds *int    `json:"rounds"`
		Seed   *uint64 `json:"seed"`
	}
	if json.Unmarshal(b, &js) != nil {
		return // e.g. a number encoding/json will not put in an int
	}
	if js.Name != nil && *js.Name != s.Name {
		t.Fatalf("name: Parse read %q, encoding/json reads %q", s.Name, *js.Name)
	}
	if js.Rounds != nil && *js.Rounds != s.Rounds {
		t.Fatalf("rounds: Parse read %d, encoding/json reads %d", s.Rounds, *js.Rounds)
	}
	if js.Seed != nil && *js.Seed != s.Seed {
		t.Fatalf("seed: Parse read %d, encoding/json reads %d", s.Seed, *js.Seed)
	}
}
