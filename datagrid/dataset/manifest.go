package dataset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

// Format is the manifest format this package reads and writes.
const Format = "gridswarm-dataset/1"

// ManifestFile is the manifest's file name inside a dataset folder.
const ManifestFile = "manifest.json"

// MaxManifestSize caps the manifest file.
const MaxManifestSize = 1 << 20

// MaxShardSize caps one shard file; shards are loaded whole into memory.
const MaxShardSize = 1 << 30

// The splits a shard can belong to.
const (
	SplitTrain      = "train"
	SplitValidation = "validation"
	SplitTest       = "test"
)

// shardExt is the extension every shard file name carries.
const shardExt = ".safetensors"

// Manifest describes a dataset folder.
type Manifest struct {
	Format  string                `json:"format"`
	Name    string                `json:"name"`
	License string                `json:"license,omitempty"`
	Source  string                `json:"source,omitempty"`
	Tensors map[string]TensorSpec `json:"tensors"`
	Classes int                   `json:"classes,omitempty"` // number of label classes; 0 when not a classification set
	Shards  []ShardInfo           `json:"shards"`
}

// TensorSpec is the dtype and per-sample shape of one tensor. A shard of n
// samples holds the tensor with shape [n]+Shape; an empty Shape means one
// value per sample.
type TensorSpec struct {
	DType safetensors.DType `json:"dtype"`
	Shape []int64           `json:"shape"`
}

// MarshalJSON writes a nil Shape as [] so a scalar spec reads back.
func (s TensorSpec) MarshalJSON() ([]byte, error) {
	type plain TensorSpec // drops the method, avoiding recursion
	if s.Shape == nil {
		s.Shape = []int64{}
	}
	return json.Marshal(plain(s))
}

// ShardInfo lists one shard file of the dataset.
type ShardInfo struct {
	File    string `json:"file"`
	Split   string `json:"split"`
	Samples int    `json:"samples"`
}

// ManifestError reports an invalid manifest; Field names the offending
// field (e.g. "shards[3].split"), or is empty for the document as a whole.
type ManifestError struct {
	Field string
	Msg   string
}

func (e *ManifestError) Error() string {
	if e.Field == "" {
		return "manifest: " + e.Msg
	}
	return "manifest: " + e.Field + ": " + e.Msg
}

func fieldErr(field, format string, args ...any) error {
	return &ManifestError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ParseManifest parses and validates a manifest strictly: unknown fields,
// trailing data and documents over MaxManifestSize are rejected. The errors
// are *ManifestError.
func ParseManifest(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fieldErr("", "is %d bytes, over the %d-byte limit", len(b), MaxManifestSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fieldErr("", "invalid JSON: %v", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return nil, fieldErr("", "unexpected data after the JSON object")
	}
	for _, name := range slices.Sorted(maps.Keys(m.Tensors)) {
		if m.Tensors[name].Shape == nil {
			return nil, fieldErr(fmt.Sprintf("tensors[%q].shape", name), "missing (use [] for one value per sample)")
		}
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// LoadManifest reads and parses dir/manifest.json.
func LoadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open dataset manifest (is %s a dataset folder?): %w", dir, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxManifestSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Marshal validates m and returns its deterministic JSON: fields in
// declaration order, tensors sorted by name, shards in list order, two-space
// indent and a final newline.
func (m *Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}
	return buf.Bytes(), nil
}

// Validate checks every field of m; the error is a *ManifestError naming the
// first bad field.
func (m *Manifest) Validate() error {
	switch {
	case m.Format != Format:
		return fieldErr("format", "%q is not %q", m.Format, Format)
	case strings.TrimSpace(m.Name) == "":
		return fieldErr("name", "is empty")
	case m.Classes < 0:
		return fieldErr("classes", "is %d; must be 0 or more", m.Classes)
	case len(m.Tensors) == 0:
		return fieldErr("tensors", "lists no tensor")
	case len(m.Shards) == 0:
		return fieldErr("shards", "lists no shard")
	}
	for _, name := range slices.Sorted(maps.Keys(m.Tensors)) {
		if err := validateSpec(name, m.Tensors[name]); err != nil {
			return err
		}
	}
	seen := map[string]int{}
	for i, s := range m.Shards {
		if j, dup := seen[s.File]; dup {
			return fieldErr(fmt.Sprintf("shards[%d].file", i), "%q is already shards[%d]", s.File, j)
		}
		seen[s.File] = i
		if err := m.validateShard(i, s); err != nil {
			return err
		}
	}
	return nil
}

func validateSpec(name string, s TensorSpec) error {
	field := fmt.Sprintf("tensors[%q]", name)
	if name == "" || name == "__metadata__" {
		return fieldErr(field, "is not a usable tensor name")
	}
	if !s.DType.Valid() {
		return fieldErr(field+".dtype", "%q is not a known dtype", string(s.DType))
	}
	for i, d := range s.Shape {
		if d <= 0 {
			return fieldErr(fmt.Sprintf("%s.shape[%d]", field, i), "is %d; dimensions must be positive", d)
		}
	}
	if _, err := safetensors.ByteSize(s.DType, s.Shape); err != nil {
		return fieldErr(field+".shape", "%v", err)
	}
	return nil
}

func (m *Manifest) validateShard(i int, s ShardInfo) error {
	field := fmt.Sprintf("shards[%d]", i)
	if err := checkFileName(s.File); err != nil {
		return fieldErr(field+".file", "%q %v", s.File, err)
	}
	switch s.Split {
	case SplitTrain, SplitValidation, SplitTest:
	default:
		return fieldErr(field+".split", "%q is not one of %s, %s, %s", s.Split, SplitTrain, SplitValidation, SplitTest)
	}
	if s.Samples <= 0 {
		return fieldErr(field+".samples", "is %d; must be positive", s.Samples)
	}
	var total int64
	for _, name := range slices.Sorted(maps.Keys(m.Tensors)) {
		spec := m.Tensors[name]
		n, err := safetensors.ByteSize(spec.DType, sampleShape(s.Samples, spec.Shape))
		if err == nil && n > MaxShardSize-total {
			err = fmt.Errorf("tensors need more than the %d-byte shard limit", int64(MaxShardSize))
		}
		if err != nil {
			return fieldErr(field+".samples", "%d samples: %v", s.Samples, err)
		}
		total += n
	}
	return nil
}

// checkFileName accepts only a plain file name inside the dataset folder.
func checkFileName(name string) error {
	switch {
	case name == "":
		return errors.New("is empty")
	case len(name) > 255:
		return errors.New("is longer than 255 bytes")
	case strings.ContainsAny(name, `/\:`) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return errors.New(`must be a plain file name (no /, \, : or control characters)`)
	case strings.HasPrefix(name, "."):
		return errors.New("must not start with '.'")
	case !strings.HasSuffix(name, shardExt) || name == shardExt:
		return fmt.Errorf("must end in %s", shardExt)
	}
	return nil
}

// sampleShape returns [samples]+shape, the shape of a tensor in a shard.
func sampleShape(samples int, shape []int64) []int64 {
	return append([]int64{int64(samples)}, shape...)
}

// Counts returns the number of samples in each split present in m.
func Counts(m *Manifest) map[string]int {
	c := map[string]int{}
	for _, s := range m.Shards {
		c[s.Split] += s.Samples
	}
	return c
}

// SplitShards returns the shards of one split in manifest order.
func (m *Manifest) SplitShards(split string) []ShardInfo {
	var out []ShardInfo
	for _, s := range m.Shards {
		if s.Split == split {
			out = append(out, s)
		}
	}
	return out
}

// Shard returns the entry of the named shard file.
func (m *Manifest) Shard(file string) (ShardInfo, bool) {
	for _, s := range m.Shards {
		if s.File == file {
			return s, true
		}
	}
	return ShardInfo{}, false
}
