package tasklet

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"unicode"
	"unicode/utf8"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// SpecVersion is the only Spec.Version this package accepts.
const SpecVersion = 1

// Executor names the coordinator may ask for. Workers decline names they
// do not run with ReasonUnsupportedExecutor.
const (
	ExecutorBuiltin = "builtin"
	ExecutorWasm    = "wasm"
	ExecutorProcess = "process"
)

// Limits on a Spec.
const (
	MaxSpecSize   = 128 << 10 // bytes of canonical JSON
	MaxParamsSize = 64 << 10  // bytes of Params
	MaxInputs     = 128
	MaxNameLen    = 128 // bytes of an input name
)

var executorPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)

// Spec describes one tasklet. It is content-addressed: CID hashes its
// canonical JSON, so coordinator and worker agree on what was offered.
type Spec struct {
	Version  int             `json:"v"`
	Executor string          `json:"executor"` // builtin, wasm or process
	JobID    string          `json:"job"`
	Round    uint64          `json:"round"`
	Index    int             `json:"index"` // the tasklet's place in its round
	Inputs   []Input         `json:"inputs"`
	Params   json.RawMessage `json:"params,omitempty"` // executor-specific JSON
	Seed     uint64          `json:"seed"`
	Deadline int64           `json:"deadline"` // unix ms; the worker stops the run then
}

// Input is a named input of a tasklet, fetched from the data grid.
type Input struct {
	Name string `json:"name"`
	CID  string `json:"cid"`
	// Size is the input's cumulative DAG size in bytes as the coordinator
	// knows it (0: unknown). A worker uses it to check, before accepting,
	// that the inputs it lacks and the output fit its storage quota. It is
	// left out of the canonical JSON when 0, so older specs keep their CIDs.
	Size uint64 `json:"size,omitempty"`
}

// Canonical returns the bytes Spec.CID hashes: JSON with the fields in
// declaration order, no insignificant whitespace, no HTML escaping, Inputs
// always an array and Params compacted.
func (s Spec) Canonical() ([]byte, error) {
	if s.Inputs == nil {
		s.Inputs = []Input{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, fmt.Errorf("cannot encode tasklet spec: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// CID is the spec's content address: CIDv1, codec raw, sha2-256 of
// Canonical.
func (s Spec) CID() (cid.Cid, error) {
	b, err := s.Canonical()
	if err != nil {
		return cid.Undef, err
	}
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, fmt.Errorf("cannot hash tasklet spec: %w", err)
	}
	return cid.NewCidV1(cid.Raw, h), nil
}

// ParseSpec decodes and validates a spec of at most MaxSpecSize bytes.
// Unknown fields are refused: a newer spec must not be half understood.
func ParseSpec(b []byte) (Spec, error) {
	if len(b) > MaxSpecSize {
		return Spec{}, fmt.Errorf("tasklet spec of %d bytes exceeds the %d byte limit", len(b), MaxSpecSize)
	}
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Spec{}, fmt.Errorf("cannot decode tasklet spec: %w", err)
	}
	if dec.More() {
		return Spec{}, errors.New("cannot decode tasklet spec: data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

// Validate checks every field and names the first bad one.
func (s Spec) Validate() error {
	switch {
	case s.Version != SpecVersion:
		return fmt.Errorf("spec.v: %d; this worker reads version %d", s.Version, SpecVersion)
	case !executorPattern.MatchString(s.Executor):
		return fmt.Errorf("spec.executor: %q is not an executor name (builtin, wasm, process)", truncate(s.Executor, 40))
	case s.Index < 0:
		return fmt.Errorf("spec.index: %d is negative", s.Index)
	case s.Deadline <= 0:
		return fmt.Errorf("spec.deadline: %d; set the unix millisecond time by which the tasklet must finish", s.Deadline)
	}
	if err := checkText("spec.job", s.JobID, receipt.MaxJobIDLen); err != nil {
		return err
	}
	if err := checkInputs(s.Inputs); err != nil {
		return err
	}
	if len(s.Params) > MaxParamsSize {
		return fmt.Errorf("spec.params: %d bytes, over the %d byte limit", len(s.Params), MaxParamsSize)
	}
	if len(s.Params) > 0 && !json.Valid(s.Params) {
		return errors.New("spec.params: not valid JSON")
	}
	b, err := s.Canonical()
	if err != nil {
		return err
	}
	if len(b) > MaxSpecSize {
		return fmt.Errorf("spec: %d bytes encoded, over the %d byte limit", len(b), MaxSpecSize)
	}
	return nil
}

func checkInputs(inputs []Input) error {
	if len(inputs) > MaxInputs {
		return fmt.Errorf("spec.inputs: %d inputs, limit %d", len(inputs), MaxInputs)
	}
	seen := make(map[string]bool, len(inputs))
	for i, in := range inputs {
		field := fmt.Sprintf("spec.inputs[%d]", i)
		if err := checkText(field+".name", in.Name, MaxNameLen); err != nil {
			return err
		}
		if seen[in.Name] {
			return fmt.Errorf("%s.name: %q appears twice", field, in.Name)
		}
		seen[in.Name] = true
		if len(in.CID) > receipt.MaxCIDLen {
			return fmt.Errorf("%s.cid: %d characters, limit %d", field, len(in.CID), receipt.MaxCIDLen)
		}
		if _, err := cid.Decode(in.CID); err != nil {
			return fmt.Errorf("%s.cid: %q is not a CID: %w", field, truncate(in.CID, 80), err)
		}
	}
	return nil
}

// checkText accepts 1..max bytes of UTF-8 without control characters.
func checkText(field, s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("%s: empty", field)
	case len(s) > max:
		return fmt.Errorf("%s: %d bytes, limit %d", field, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s: contains control character %U", field, r)
		}
	}
	return nil
}
