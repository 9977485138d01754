package jobspec

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns is
// made of *FieldError, and that an accepted spec survives Canonical and
// Parse again unchanged, byte for byte.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "../../examples/jobs/mnist-mlp.yaml")
	for _, name := range files {
		f.Add(bytes.ReplaceAll(readFile(f, name), []byte("REPLACE_WITH_DATASET_CID"), []byte(cidDataset)))
	}
	for _, s := range []string{
		okSimple,
		okSimple + "tasklets_per_round: 3\ndeadline: 2h\nresources: {gpu_memory: 6GiB, disk: 1.5GB}\n",
		head + "executor: process\n" + okProg + okData + "outer_optimizer: {kind: average}\n",
		"version: &v 1\nname: t\nrounds: *v\n" + okModel + okData,
		"{\"version\":1,\"name\":\"t\"}",
		"rounds: 10.5\nmodel: 3\n<<: {a: 1}\n",
		"a: &a [*a]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			for _, fe := range fieldErrs(t, err) {
				if strings.HasPrefix(fe.Msg, "cannot decode job spec") {
					t.Fatalf("the walker accepted what yaml.v3's strict decoder refused: %v", err)
				}
			}
			return
		}
		checkWalkerMatchesStrict(t, b)
		c, err := s.Canonical()
		if err != nil {
			t.Fatalf("Canonical of an accepted spec: %v", err)
		}
		again, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(Canonical) = %v\ncanonical: %s", err, c)
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("Parse(Canonical) = %+v\nwant %+v", again, s)
		}
		c2, err := again.Canonical()
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("Canonical not stable:\n%s\n%s (%v)", c, c2, err)
		}
	})
}

// checkWalkerMatchesStrict decodes b both ways and requires equal results.
func checkWalkerMatchesStrict(t *testing.T, b []byte) {
	t.Helper()
	root, err := parseDocument(b)
	if err != nil {
		t.Fatalf("parseDocument of an accepted spec: %v", err)
	}
	var walked Spec
	w := newWalker()
	w.structure(root, reflect.ValueOf(&walked).Elem(), "")
	strict, err := decodeStrict(b)
	if len(w.errs) > 0 || err != nil {
		t.Fatalf("walker errors %v, strict error %v", w.errs, err)
	}
	if !reflect.DeepEqual(walked, strict) {
		t.Fatalf("walker decoded %+v\nstrict decoded %+v", walked, strict)
	}
}
