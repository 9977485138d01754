package dataset

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/gridswarm/gridswarm/datagrid/safetensors"
)

// Shard is one shard file loaded into memory and checked against its manifest.
type Shard struct {
	File    string // file name as listed in the manifest
	Split   string
	Samples int
	Classes int // the manifest's class count; 0 when unknown
	Tensors map[string]safetensors.Tensor
}

// LoadShard reads the shard at path, whose file name must be listed in m,
// and checks its tensors against m. The file may be at most MaxShardSize.
func LoadShard(path string, m *Manifest) (*Shard, error) {
	name := filepath.Base(path)
	info, ok := m.Shard(name)
	if !ok {
		return nil, fmt.Errorf("load shard %s: not listed in the manifest of dataset %q", path, m.Name)
	}
	b, err := readCapped(path, MaxShardSize)
	if err != nil {
		return nil, fmt.Errorf("load shard %s: %w", path, err)
	}
	f, err := safetensors.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("load shard %s: %w", path, err)
	}
	got := make([]tensorShape, len(f.Tensors))
	sh := &Shard{File: name, Split: info.Split, Samples: info.Samples, Classes: m.Classes,
		Tensors: make(map[string]safetensors.Tensor, len(f.Tensors))}
	for i, t := range f.Tensors {
		got[i] = tensorShape{t.Name, t.DType, t.Shape}
		sh.Tensors[t.Name] = t
	}
	if err := checkTensors(info, m, got); err != nil {
		return nil, fmt.Errorf("load shard %s: %w", path, err)
	}
	return sh, nil
}

// readCapped reads a whole regular file of at most limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit", st.Size(), limit)
	}
	b := make([]byte, st.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if n, _ := f.Read(make([]byte, 1)); n > 0 {
		return nil, errors.New("file grew while it was read")
	}
	return b, nil
}

func (s *Shard) tensor(name string) (safetensors.Tensor, error) {
	t, ok := s.Tensors[name]
	if !ok {
		return t, fmt.Errorf("shard %s has no tensor %q", s.File, name)
	}
	return t, nil
}

// Float32 returns every element of the named tensor as float32(v) * scale,
// in file order. Use scale 1.0/255 for U8 images in [0,1]. The one rounding
// of a single multiply makes the result bitwise reproducible. It reads U8,
// I8, U16, I16, I32 and F32 tensors.
func (s *Shard) Float32(name string, scale float32) ([]float32, error) {
	t, err := s.tensor(name)
	if err != nil {
		return nil, err
	}
	size := t.DType.Size()
	at := elemReader(t.DType)
	if at == nil {
		return nil, fmt.Errorf("shard %s: tensor %q is %s; Float32 reads U8, I8, U16, I16, I32 and F32", s.File, name, t.DType)
	}
	out := make([]float32, len(t.Data)/size)
	for i := range out {
		out[i] = at(t.Data[i*size:]) * scale
	}
	return out, nil
}

// elemReader returns a function decoding one little-endian element as float32.
func elemReader(d safetensors.DType) func([]byte) float32 {
	switch d {
	case safetensors.DTypeU8:
		return func(b []byte) float32 { return float32(b[0]) }
	case safetensors.DTypeI8:
		return func(b []byte) float32 { return float32(int8(b[0])) }
	case safetensors.DTypeU16:
		return func(b []byte) float32 { return float32(binary.LittleEndian.Uint16(b)) }
	case safetensors.DTypeI16:
		return func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) }
	case safetensors.DTypeI32:
		return func(b []byte) float32 { return float32(int32(binary.LittleEndian.Uint32(b))) }
	case safetensors.DTypeF32:
		return func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
	}
	return nil
}

// Labels returns the named per-sample class labels (shape [Samples]). Each
// must be at least 0 and, when the manifest gives Classes, below it. It reads
// U8, I8, U16, I16, I32 and I64 tensors.
func (s *Shard) Labels(name string) ([]int32, error) {
	t, err := s.tensor(name)
	if err != nil {
		return nil, err
	}
	if len(t.Shape) != 1 || t.Shape[0] != int64(s.Samples) {
		return nil, fmt.Errorf("shard %s: tensor %q has shape %v; labels need [%d]", s.File, name, t.Shape, s.Samples)
	}
	at := labelReader(t.DType)
	if at == nil {
		return nil, fmt.Errorf("shard %s: tensor %q is %s; Labels reads U8, I8, U16, I16, I32 and I64", s.File, name, t.DType)
	}
	size := t.DType.Size()
	if len(t.Data) != s.Samples*size {
		return nil, fmt.Errorf("shard %s: tensor %q has %d bytes; %d samples of %s need %d", s.File, name, len(t.Data), s.Samples, t.DType, s.Samples*size)
	}
	highest := int64(math.MaxInt32)
	if s.Classes > 0 {
		highest = int64(s.Classes) - 1
	}
	out := make([]int32, s.Samples)
	for i := range out {
		v := at(t.Data[i*size:])
		if v < 0 || v > highest {
			return nil, fmt.Errorf("shard %s: tensor %q: sample %d has label %d, outside 0..%d", s.File, name, i, v, highest)
		}
		out[i] = int32(v)
	}
	return out, nil
}

// labelReader returns a function decoding one little-endian integer element.
func labelReader(d safetensors.DType) func([]byte) int64 {
	switch d {
	case safetensors.DTypeU8:
		return func(b []byte) int64 { return int64(b[0]) }
	case safetensors.DTypeI8:
		return func(b []byte) int64 { return int64(int8(b[0])) }
	case safetensors.DTypeU16:
		return func(b []byte) int64 { return int64(binary.LittleEndian.Uint16(b)) }
	case safetensors.DTypeI16:
		return func(b []byte) int64 { return int64(int16(binary.LittleEndian.Uint16(b))) }
	case safetensors.DTypeI32:
		return func(b []byte) int64 { return int64(int32(binary.LittleEndian.Uint32(b))) }
	case safetensors.DTypeI64:
		return func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) }
	}
	return nil
}
