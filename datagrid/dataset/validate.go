package dataset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

// ValidateDir checks that dir holds a valid dataset: the manifest parses and
// every shard it lists exists, is within MaxShardSize, has a valid header whose
// byte buffer matches the file size, and holds exactly the manifest's tensors
// with its dtypes and [samples]+shape. Only shard headers are read. Every bad
// shard is reported, each error naming its file and tensor.
func ValidateDir(ctx context.Context, dir string) (*Manifest, error) {
	m, err := LoadManifest(dir)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, s := range m.Shards {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("validate dataset %s: %w", dir, err)
		}
		if err := checkShardFile(filepath.Join(dir, s.File), s, m); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("dataset %s: %d of %d shards are invalid (re-import or re-fetch them):\n%w",
			dir, len(errs), len(m.Shards), errors.Join(errs...))
	}
	return m, nil
}

// checkShardFile validates one shard file's header and size against s.
func checkShardFile(path string, s ShardInfo, m *Manifest) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("shard %s: file is missing", s.File)
	}
	if err != nil {
		return fmt.Errorf("shard %s: %w", s.File, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("shard %s: %w", s.File, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("shard %s: not a regular file", s.File)
	}
	if st.Size() > MaxShardSize {
		return fmt.Errorf("shard %s: %d bytes, over the %d-byte shard limit", s.File, st.Size(), int64(MaxShardSize))
	}
	h, headerLen, err := safetensors.DecodeHeader(f)
	if err != nil {
		return fmt.Errorf("shard %s: %w", s.File, err)
	}
	switch want := headerLen + h.DataLen(); {
	case st.Size() < want:
		return fmt.Errorf("shard %s: truncated: the header describes %d bytes, the file has %d", s.File, want, st.Size())
	case st.Size() > want:
		return fmt.Errorf("shard %s: %d trailing bytes after the last tensor", s.File, st.Size()-want)
	}
	got := make([]tensorShape, len(h.Tensors))
	for i, t := range h.Tensors {
		got[i] = tensorShape{t.Name, t.DType, t.Shape}
	}
	return checkTensors(s, m, got)
}

// tensorShape is what the manifest constrains about a tensor in a shard.
type tensorShape struct {
	Name  string
	DType safetensors.DType
	Shape []int64
}

// checkTensors compares a shard's tensors with the manifest's specs.
func checkTensors(s ShardInfo, m *Manifest, got []tensorShape) error {
	byName := map[string]tensorShape{}
	for _, t := range got {
		byName[t.Name] = t
		if _, ok := m.Tensors[t.Name]; !ok {
			return fmt.Errorf("shard %s: tensor %q is not in the manifest", s.File, t.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(m.Tensors)) {
		spec := m.Tensors[name]
		t, ok := byName[name]
		if !ok {
			return fmt.Errorf("shard %s: tensor %q is missing", s.File, name)
		}
		if t.DType != spec.DType {
			return fmt.Errorf("shard %s: tensor %q: dtype %s, manifest says %s", s.File, name, t.DType, spec.DType)
		}
		if want := sampleShape(s.Samples, spec.Shape); !slices.Equal(t.Shape, want) {
			return fmt.Errorf("shard %s: tensor %q: shape %v, manifest wants %v", s.File, name, t.Shape, want)
		}
	}
	return nil
}
