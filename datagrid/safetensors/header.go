package safetensors

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"unicode/utf8"
)

// MaxHeaderSize caps the JSON header (the reference implementation uses 100 MB).
// A header length beyond it is rejected before anything is allocated.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key holding free-form string metadata.
const metadataKey = "__metadata__"

// ErrInvalid is wrapped by every error that reports malformed safetensors
// bytes, so callers can tell bad input from I/O failures with errors.Is.
var ErrInvalid = errors.New("invalid safetensors")

// Header is the parsed JSON header of a file.
type Header struct {
	Tensors  []TensorInfo // sorted by name
	Metadata map[string]string
}

// TensorInfo describes one tensor of a header.
type TensorInfo struct {
	Name    string
	DType   DType
	Shape   []int64
	Offsets [2]int64 // begin and end within the byte buffer
}

// DataLen returns the size of the byte buffer the header describes.
func (h *Header) DataLen() int64 {
	var n int64
	for _, t := range h.Tensors {
		n = max(n, t.Offsets[1])
	}
	return n
}

// Tensor returns the named tensor's description.
func (h *Header) Tensor(name string) (TensorInfo, bool) {
	i, ok := slices.BinarySearchFunc(h.Tensors, name, func(t TensorInfo, n string) int { return cmp.Compare(t.Name, n) })
	if !ok {
		return TensorInfo{}, false
	}
	return h.Tensors[i], true
}

// DecodeHeader reads and validates only the header at the start of r, so the
// layout of a file too big to load can be checked. headerLen is the number of
// bytes the header occupies, the 8-byte length included: the byte buffer
// starts at that offset and should be Header.DataLen() bytes long. It reads
// exactly headerLen bytes from r.
func DecodeHeader(r io.Reader) (h *Header, headerLen int64, err error) {
	var lenBuf [8]byte
	if n, err := io.ReadFull(r, lenBuf[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, 0, fmt.Errorf("%w: file is %d bytes, shorter than the 8-byte header length", ErrInvalid, n)
		}
		return nil, 0, fmt.Errorf("read safetensors header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n > MaxHeaderSize {
		return nil, 0, fmt.Errorf("%w: header length %d exceeds the %d-byte limit", ErrInvalid, n, MaxHeaderSize)
	}
	// ReadAll grows with the data actually there, so a lying length on a short
	// stream costs no big allocation.
	js, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, 0, fmt.Errorf("read safetensors header: %w", err)
	}
	if uint64(len(js)) != n {
		return nil, 0, fmt.Errorf("%w: header length %d runs past the end of the file (%d bytes follow)", ErrInvalid, n, len(js))
	}
	h, err = parseHeader(js)
	if err != nil {
		return nil, 0, err
	}
	return h, 8 + int64(n), nil
}

// rawInfo is one tensor entry exactly as the JSON spells it.
type rawInfo struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// parseHeader parses and validates the JSON header. It walks the object key
// by key because encoding/json would silently keep the last of duplicate keys.
func parseHeader(js []byte) (*Header, error) {
	if !utf8.Valid(js) {
		return nil, fmt.Errorf("%w: header is not valid UTF-8", ErrInvalid)
	}
	if len(js) == 0 || js[0] != '{' {
		return nil, fmt.Errorf("%w: header does not start with '{'", ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: header JSON: %v", ErrInvalid, jsonErr(err))
	}
	h := &Header{}
	seen := map[string]bool{}
	for dec.More() {
		if err := parseEntry(dec, h, seen); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: header JSON: %v", ErrInvalid, jsonErr(err))
	}
	if rest := bytes.TrimLeft(js[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return nil, fmt.Errorf("%w: header has %d bytes after the JSON object", ErrInvalid, len(rest))
	}
	if err := checkLayout(h.Tensors); err != nil {
		return nil, err
	}
	slices.SortFunc(h.Tensors, func(a, b TensorInfo) int { return cmp.Compare(a.Name, b.Name) })
	return h, nil
}

// parseEntry reads one key and its value from the header object into h.
func parseEntry(dec *json.Decoder, h *Header, seen map[string]bool) error {
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("%w: header JSON: %v", ErrInvalid, jsonErr(err))
	}
	name, _ := tok.(string) // inside an object the decoder only yields string keys
	if seen[name] {
		return fmt.Errorf("%w: duplicate header key %q", ErrInvalid, name)
	}
	seen[name] = true
	if name == metadataKey {
		if err := dec.Decode(&h.Metadata); err != nil {
			return fmt.Errorf("%w: %s must map strings to strings: %v", ErrInvalid, metadataKey, jsonErr(err))
		}
		return nil
	}
	if name == "" {
		return fmt.Errorf("%w: tensor with an empty name", ErrInvalid)
	}
	var raw rawInfo
	if err := dec.Decode(&raw); err != nil {
		return fmt.Errorf("%w: tensor %q: %v", ErrInvalid, name, jsonErr(err))
	}
	info, err := checkInfo(name, raw)
	if err != nil {
		return err
	}
	h.Tensors = append(h.Tensors, info)
	return nil
}

// jsonErr names a premature end of the header instead of a bare EOF.
func jsonErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON")
	}
	return err
}

// checkInfo validates one tensor entry on its own.
func checkInfo(name string, raw rawInfo) (TensorInfo, error) {
	switch {
	case raw.DType == "":
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: missing dtype", ErrInvalid, name)
	case raw.Shape == nil:
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: missing shape", ErrInvalid, name)
	case raw.DataOffsets == nil:
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: missing data_offsets", ErrInvalid, name)
	case len(raw.DataOffsets) != 2:
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: data_offsets has %d numbers, want 2", ErrInvalid, name, len(raw.DataOffsets))
	}
	size, err := ByteSize(raw.DType, raw.Shape)
	if err != nil {
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: %v", ErrInvalid, name, err)
	}
	begin, end := raw.DataOffsets[0], raw.DataOffsets[1]
	if begin < 0 || end < begin {
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: data_offsets [%d %d] are not 0 <= begin <= end", ErrInvalid, name, begin, end)
	}
	if end-begin != size {
		return TensorInfo{}, fmt.Errorf("%w: tensor %q: shape %v needs %d bytes of %s, data_offsets give %d",
			ErrInvalid, name, raw.Shape, size, raw.DType, end-begin)
	}
	return TensorInfo{Name: name, DType: raw.DType, Shape: raw.Shape, Offsets: [2]int64{begin, end}}, nil
}

// checkLayout requires the tensors to tile the byte buffer from offset 0 with
// no gap and no overlap, as the reference implementation does.
func checkLayout(ts []TensorInfo) error {
	byOffset := slices.Clone(ts)
	slices.SortFunc(byOffset, func(a, b TensorInfo) int {
		return cmp.Or(cmp.Compare(a.Offsets[0], b.Offsets[0]), cmp.Compare(a.Offsets[1], b.Offsets[1]), cmp.Compare(a.Name, b.Name))
	})
	var next int64
	prev := ""
	for _, t := range byOffset {
		switch {
		case t.Offsets[0] < next:
			return fmt.Errorf("%w: tensor %q: data_offsets %v overlap tensor %q, which ends at %d", ErrInvalid, t.Name, t.Offsets, prev, next)
		case t.Offsets[0] > next:
			return fmt.Errorf("%w: tensor %q: data_offsets %v leave a gap of %d bytes after offset %d", ErrInvalid, t.Name, t.Offsets, t.Offsets[0]-next, next)
		}
		next, prev = t.Offsets[1], t.Name
	}
	return nil
}

// ByteSize returns the number of bytes a tensor of this dtype and shape holds.
// It rejects unknown dtypes, negative dimensions and sizes that overflow int64.
func ByteSize(d DType, shape []int64) (int64, error) {
	size := int64(d.Size())
	if size == 0 {
		return 0, fmt.Errorf("unknown dtype %q", string(d))
	}
	for i, dim := range shape {
		if dim < 0 {
			return 0, fmt.Errorf("shape %v: dimension %d is negative", shape, i)
		}
		if dim != 0 && size > math.MaxInt64/dim {
			return 0, fmt.Errorf("shape %v of %s: byte size overflows int64", shape, d)
		}
		size *= dim
	}
	return size, nil
}
