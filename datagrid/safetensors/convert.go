package safetensors

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// F32 returns the elements of an F32 tensor.
func F32(t Tensor) ([]float32, error) {
	if err := checkKind(t, DTypeF32); err != nil {
		return nil, err
	}
	v := make([]float32, len(t.Data)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// FromF32 returns an F32 tensor holding v. Encode rejects it when len(v) is
// not the product of shape.
func FromF32(name string, shape []int64, v []float32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Tensor{Name: name, DType: DTypeF32, Shape: slices.Clone(shape), Data: b}
}

// U8 returns a copy of the elements of a U8 tensor.
func U8(t Tensor) ([]uint8, error) {
	if err := checkKind(t, DTypeU8); err != nil {
		return nil, err
	}
	return slices.Clone(t.Data), nil
}

// U8View returns the elements of a U8 tensor without copying them: they
// are the tensor's Data, which Decode leaves in the file's bytes, so the
// caller must not change those bytes while it uses the result. It is for
// a training shard, where a copy would double a tasklet's largest
// allocation.
func U8View(t Tensor) ([]uint8, error) {
	if err := checkKind(t, DTypeU8); err != nil {
		return nil, err
	}
	return t.Data, nil
}

// FromU8 returns a U8 tensor holding a copy of v.
func FromU8(name string, shape []int64, v []uint8) Tensor {
	return Tensor{Name: name, DType: DTypeU8, Shape: slices.Clone(shape), Data: slices.Clone(v)}
}

// I32 returns the elements of an I32 tensor.
func I32(t Tensor) ([]int32, error) {
	if err := checkKind(t, DTypeI32); err != nil {
		return nil, err
	}
	v := make([]int32, len(t.Data)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(t.Data[4*i:]))
	}
	return v, nil
}

// FromI32 returns an I32 tensor holding v.
func FromI32(name string, shape []int64, v []int32) Tensor {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return Tensor{Name: name, DType: DTypeI32, Shape: slices.Clone(shape), Data: b}
}

// I64 returns the elements of an I64 tensor.
func I64(t Tensor) ([]int64, error) {
	if err := checkKind(t, DTypeI64); err != nil {
		return nil, err
	}
	v := make([]int64, len(t.Data)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(t.Data[8*i:]))
	}
	return v, nil
}

// FromI64 returns an I64 tensor holding v.
func FromI64(name string, shape []int64, v []int64) Tensor {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return Tensor{Name: name, DType: DTypeI64, Shape: slices.Clone(shape), Data: b}
}

// checkKind makes sure t is of dtype want and its bytes fit its shape.
func checkKind(t Tensor, want DType) error {
	if t.DType != want {
		return fmt.Errorf("tensor %q is %s, not %s", t.Name, t.DType, want)
	}
	size, err := ByteSize(t.DType, t.Shape)
	if err != nil {
		return fmt.Errorf("%w: tensor %q: %v", ErrInvalid, t.Name, err)
	}
	if size != int64(len(t.Data)) {
		return fmt.Errorf("%w: tensor %q: shape %v needs %d bytes of %s, data has %d", ErrInvalid, t.Name, t.Shape, size, t.DType, len(t.Data))
	}
	return nil
}
