package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Tensor is one named tensor with its raw little-endian bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	Data  []byte
}

// File is the content of a safetensors file.
type File struct {
	Tensors  []Tensor // sorted by name
	Metadata map[string]string
}

// Tensor returns the named tensor.
func (f *File) Tensor(name string) (Tensor, bool) {
	for _, t := range f.Tensors {
		if t.Name == name {
			return t, true
		}
	}
	return Tensor{}, false
}

// Decode parses and validates a whole safetensors file. The Data of each
// returned tensor aliases b (capacity-limited, so appending to it copies).
func Decode(b []byte) (*File, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: file is %d bytes, shorter than the 8-byte header length", ErrInvalid, len(b))
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("%w: header length %d exceeds the %d-byte limit", ErrInvalid, n, MaxHeaderSize)
	}
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("%w: header length %d runs past the end of the file (%d bytes follow)", ErrInvalid, n, len(b)-8)
	}
	h, err := parseHeader(b[8 : 8+n])
	if err != nil {
		return nil, err
	}
	data := b[8+n:]
	switch need := h.DataLen(); {
	case need > int64(len(data)):
		return nil, fmt.Errorf("%w: tensors need %d bytes of data, file has %d", ErrInvalid, need, len(data))
	case need < int64(len(data)):
		return nil, fmt.Errorf("%w: %d trailing bytes after the last tensor", ErrInvalid, int64(len(data))-need)
	}
	f := &File{Metadata: h.Metadata, Tensors: make([]Tensor, len(h.Tensors))}
	for i, t := range h.Tensors {
		begin, end := t.Offsets[0], t.Offsets[1]
		f.Tensors[i] = Tensor{Name: t.Name, DType: t.DType, Shape: t.Shape, Data: data[begin:end:end]}
	}
	return f, nil
}

// Encode returns the deterministic encoding of f; see Write.
func Encode(f *File) ([]byte, error) {
	hdr, ts, err := prepare(f)
	if err != nil {
		return nil, err
	}
	size := 8 + len(hdr)
	for _, t := range ts {
		size += len(t.Data)
	}
	var buf bytes.Buffer
	buf.Grow(size)
	if err := write(&buf, hdr, ts); err != nil {
		return nil, err // unreachable: bytes.Buffer does not fail
	}
	return buf.Bytes(), nil
}

// Write encodes f to w. The same tensors and metadata always give the same
// bytes: tensors are laid out in name order, the header is compact JSON with
// "__metadata__" first (omitted when empty, keys sorted) and each tensor's
// fields in the reference order dtype, shape, data_offsets, padded with
// spaces to a multiple of 8 bytes. The order of f.Tensors does not matter.
func Write(w io.Writer, f *File) error {
	hdr, ts, err := prepare(f)
	if err != nil {
		return err
	}
	return write(w, hdr, ts)
}

func write(w io.Writer, hdr []byte, ts []Tensor) error {
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hdr)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("write safetensors header length: %w", err)
	}
	if _, err := w.Write(hdr); err != nil {
		return fmt.Errorf("write safetensors header: %w", err)
	}
	for _, t := range ts {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("write tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// prepare validates f and returns its padded header and its tensors in the
// order their bytes follow the header.
func prepare(f *File) ([]byte, []Tensor, error) {
	ts := slices.Clone(f.Tensors)
	slices.SortFunc(ts, func(a, b Tensor) int { return cmp.Compare(a.Name, b.Name) })
	for i, t := range ts {
		if err := checkTensor(t); err != nil {
			return nil, nil, fmt.Errorf("encode: %w", err)
		}
		if i > 0 && ts[i-1].Name == t.Name {
			return nil, nil, fmt.Errorf("encode: %w: duplicate tensor name %q", ErrInvalid, t.Name)
		}
	}
	for k, v := range f.Metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, nil, fmt.Errorf("encode: %w: %s entry %q is not valid UTF-8", ErrInvalid, metadataKey, k)
		}
	}
	hdr := headerJSON(ts, f.Metadata)
	if len(hdr) > MaxHeaderSize {
		return nil, nil, fmt.Errorf("encode: %w: header is %d bytes, over the %d-byte limit", ErrInvalid, len(hdr), MaxHeaderSize)
	}
	return hdr, ts, nil
}

// checkTensor rejects what Decode would reject, so every encoding decodes.
func checkTensor(t Tensor) error {
	switch {
	case t.Name == "":
		return fmt.Errorf("%w: tensor with an empty name", ErrInvalid)
	case t.Name == metadataKey:
		return fmt.Errorf("%w: tensor name %q is reserved", ErrInvalid, metadataKey)
	case !utf8.ValidString(t.Name):
		return fmt.Errorf("%w: tensor name %q is not valid UTF-8", ErrInvalid, t.Name)
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

// headerJSON writes the header by hand: encoding/json would escape <, > and &
// and order struct fields differently from the reference implementation.
func headerJSON(ts []Tensor, meta map[string]string) []byte {
	b := []byte{'{'}
	if len(meta) > 0 {
		b = appendString(b, metadataKey)
		b = append(b, ":{"...)
		for i, k := range slices.Sorted(maps.Keys(meta)) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, meta[k])
		}
		b = append(b, '}')
		if len(ts) > 0 {
			b = append(b, ',')
		}
	}
	var off int64
	for i, t := range ts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, t.Name)
		b = append(b, `:{"dtype":`...)
		b = appendString(b, string(t.DType))
		b = append(b, `,"shape":[`...)
		for j, d := range t.Shape {
			if j > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, d, 10)
		}
		b = append(b, `],"data_offsets":[`...)
		b = strconv.AppendInt(b, off, 10)
		off += int64(len(t.Data))
		b = append(b, ',')
		b = strconv.AppendInt(b, off, 10)
		b = append(b, "]}"...)
	}
	b = append(b, '}')
	for len(b)%8 != 0 {
		b = append(b, ' ')
	}
	return b
}

// appendString appends s as a JSON string escaped the way serde_json does:
// quote, backslash and control characters only.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
