package jobspec

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ipfs/go-cid"
	"gopkg.in/yaml.v3"
)

// Parse reads a job spec of at most MaxSpecSize bytes of YAML (or JSON,
// which is YAML), fills in the defaults and validates it. Unknown fields,
// fields given twice and values of the wrong type are refused.
//
// On failure the error joins one *FieldError per problem, every problem in
// the spec, each with its path and, where known, its line; FieldErrors
// lists them. The returned Spec is then nil.
func Parse(b []byte) (*Spec, error) {
	if len(b) > MaxSpecSize {
		return nil, &FieldError{Msg: fmt.Sprintf("job spec is %d bytes, over the limit of %d; a job spec describes a job, it does not carry its data", len(b), MaxSpecSize)}
	}
	root, err := parseDocument(b)
	if err != nil {
		return nil, err
	}
	w := newWalker()
	var s Spec
	w.structure(root, reflect.ValueOf(&s).Elem(), "")
	if len(w.errs) == 0 && w.dropped == 0 {
		// The walker found nothing wrong: let yaml.v3's strict decoder
		// build the result, as a check on the walker.
		if s, err = decodeStrict(b); err != nil {
			return nil, &FieldError{Msg: fmt.Sprintf("cannot decode job spec: %v", err)}
		}
	}
	applyDefaults(&s, func(p string) bool { return w.set[p] })
	normalize(&s)

	errs := w.errs
	for _, fe := range FieldErrors(s.Validate()) {
		if w.isBad(fe.Path) {
			continue // already reported as undecodable
		}
		fe.Line = w.lineOf(fe.Path)
		errs = append(errs, fe)
	}
	if len(errs) > 0 {
		sortByLine(errs)
		if more := len(errs) - maxErrors + w.dropped; more > 0 {
			errs = append(errs[:min(len(errs), maxErrors)], &FieldError{Msg: fmt.Sprintf("and %d more problems; fix these first", more)})
		}
		return nil, joinFieldErrors(errs)
	}
	return &s, nil
}

// parseDocument parses b into a node tree and returns its top mapping.
func parseDocument(b []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{Msg: "job spec is empty; start from examples/jobs/mnist-mlp.yaml"}
		}
		return nil, syntaxError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		return nil, &FieldError{Msg: "job spec holds more than one YAML document (---); submit one job per file", Line: next.Line}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	root = resolveAlias(root)
	switch {
	case root == nil || isNull(root):
		return nil, &FieldError{Msg: "job spec is empty; start from examples/jobs/mnist-mlp.yaml"}
	case root.Kind != yaml.MappingNode:
		return nil, &FieldError{Msg: fmt.Sprintf("job spec must be a YAML mapping of fields (version, name, executor, …), got %s", nodeKindName(root)), Line: root.Line}
	}
	return root, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

// syntaxError turns a yaml.v3 parse error into a FieldError with its line.
func syntaxError(err error) *FieldError {
	fe := &FieldError{Msg: "cannot parse YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		fe.Line, _ = strconv.Atoi(m[1])
		fe.Msg = "cannot parse YAML: " + m[2]
	}
	return fe
}

// decodeStrict decodes b with yaml.v3 alone, refusing unknown fields.
func decodeStrict(b []byte) (Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	err := dec.Decode(&s)
	return s, err
}

// normalize makes the representation choices that do not change meaning:
// empty lists become nil, negative zeros zero, CIDs their canonical
// string (base32 for CIDv1), so that equal specs are equal Go values and
// give equal Canonical bytes.
func normalize(s *Spec) {
	*s = s.normalized()
	canonCID(&s.Dataset.CID)
	if s.Program != nil {
		canonCID(&s.Program.CID)
	}
}

func canonCID(p *string) {
	if len(*p) > MaxCIDLen {
		return
	}
	if id, err := cid.Decode(*p); err == nil && id.Version() == 1 {
		*p = id.String()
	}
}

// sortByLine orders errors as they appear in the file, those without a
// line (missing fields) last; errors on one line keep their order.
func sortByLine(errs []*FieldError) {
	key := func(e *FieldError) int {
		if e.Line == 0 {
			return math.MaxInt
		}
		return e.Line
	}
	slices.SortStableFunc(errs, func(a, b *FieldError) int { return cmp.Compare(key(a), key(b)) })
}
