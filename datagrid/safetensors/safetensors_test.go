package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// goldenFile is pinned byte for byte in TestGolden.
func goldenFile() *File {
	return &File{
		Tensors: []Tensor{
			{Name: "b", DType: DTypeU8, Shape: []int64{3}, Data: []byte{1, 2, 3}},
			{Name: "a", DType: DTypeF32, Shape: []int64{2}, Data: []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}}, // 1.0, 2.0
		},
		Metadata: map[string]string{"format": "pt"},
	}
}

func TestGolden(t *testing.T) {
	// 138 bytes of JSON padded with 6 spaces to 144 = 0x90.
	want := []byte("\x90\x00\x00\x00\x00\x00\x00\x00" +
		`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}` + "      " +
		"\x00\x00\x80\x3f\x00\x00\x00\x40" + "\x01\x02\x03")
	got, err := Encode(goldenFile())
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode:\n got %q\nwant %q", got, want)
	}
	var buf bytes.Buffer
	if err := Write(&buf, goldenFile()); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("Write:\n got %q\nwant %q", buf.Bytes(), want)
	}
}

// TestReferenceExample decodes the example from the reference implementation's
// documentation (its header is unpadded) and checks the re-encoding pads it.
func TestReferenceExample(t *testing.T) {
	hdr := `{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`
	in := []byte("<\x00\x00\x00\x00\x00\x00\x00" + hdr + strings.Repeat("\x00", 16))
	f, err := Decode(in)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if len(f.Tensors) != 1 || f.Tensors[0].Name != "test" || f.Tensors[0].DType != DTypeI32 ||
		!slices.Equal(f.Tensors[0].Shape, []int64{2, 2}) || len(f.Tensors[0].Data) != 16 {
		t.Fatalf("Decode = %+v, want one I32 tensor \"test\" of shape [2 2] with 16 bytes", f.Tensors)
	}
	got, err := Encode(f)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	want := []byte("@\x00\x00\x00\x00\x00\x00\x00" + hdr + "    " + strings.Repeat("\x00", 16))
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode:\n got %q\nwant %q", got, want)
	}
}

func sampleFile() *File {
	return &File{
		Tensors: []Tensor{
			FromF32("layer.0.weight", []int64{2, 3}, []float32{1, -2, 3.5, 0, -0.25, 1e-7}),
			FromI64("step", []int64{}, []int64{-42}),
			FromU8("images", []int64{2, 2}, []uint8{0, 1, 254, 255}),
			FromI32("labels", []int64{3}, []int32{7, -1, 1 << 30}),
			{Name: "empty", DType: DTypeF16, Shape: []int64{0, 5}, Data: []byte{}},
			{Name: "also-empty", DType: DTypeBF16, Shape: []int64{3, 0}},
			{Name: "flags", DType: DTypeBOOL, Shape: []int64{1}, Data: []byte{1}},
			{Name: "odd<&>\"name\"\n\x01ü", DType: DTypeF64, Shape: []int64{1}, Data: make([]byte, 8)},
		},
		Metadata: map[string]string{"format": "pt", "zz": "<&>", "": "empty key", "tab": "a\tb"},
	}
}

func TestRoundTrip(t *testing.T) {
	in := sampleFile()
	enc, err := Encode(in)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	out, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := slices.Clone(in.Tensors)
	slices.SortFunc(want, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	if err := sameFile(out, &File{Tensors: want, Metadata: in.Metadata}); err != nil {
		t.Fatal(err)
	}
	again, err := Encode(out)
	if err != nil {
		t.Fatalf("re-Encode: %v", err)
	}
	if !bytes.Equal(again, enc) {
		t.Fatalf("re-encoding differs:\n got %q\nwant %q", again, enc)
	}
}

func TestEncodeDeterministic(t *testing.T) {
	want, err := Encode(sampleFile())
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 20 {
		f := sampleFile()
		rng.Shuffle(len(f.Tensors), func(a, b int) { f.Tensors[a], f.Tensors[b] = f.Tensors[b], f.Tensors[a] })
		got, err := Encode(f)
		if err != nil {
			t.Fatalf("shuffle %d: Encode: %v", i, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("shuffle %d: encoding depends on tensor order", i)
		}
	}
}

func TestHeaderPadding(t *testing.T) {
	for n := 1; n <= 17; n++ {
		f := &File{Tensors: []Tensor{FromU8(strings.Repeat("x", n), []int64{1}, []uint8{9})}}
		enc, err := Encode(f)
		if err != nil {
			t.Fatalf("name length %d: Encode: %v", n, err)
		}
		hl := binary.LittleEndian.Uint64(enc)
		if hl%8 != 0 {
			t.Errorf("name length %d: header length %d is not a multiple of 8", n, hl)
		}
		if pad := bytes.TrimRight(enc[8:8+hl], " "); len(enc[8:8+hl])-len(pad) > 7 || pad[len(pad)-1] != '}' {
			t.Errorf("name length %d: header %q is not JSON followed by at most 7 spaces", n, enc[8:8+hl])
		}
	}
}

func TestEncodeEmpty(t *testing.T) {
	got, err := Encode(&File{Metadata: map[string]string{}})
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if want := []byte("\x08\x00\x00\x00\x00\x00\x00\x00{}      "); !bytes.Equal(got, want) {
		t.Fatalf("Encode(empty) = %q, want %q", got, want)
	}
	f, err := Decode(got)
	if err != nil || len(f.Tensors) != 0 {
		t.Fatalf("Decode(empty) = %+v, %v; want no tensors", f, err)
	}
}

func TestAppendString(t *testing.T) {
	got := string(appendString(nil, "a\"b\\c\n\r\t\b\f\x01\x1f<&>\u2028ü\x7f"))
	want := `"a\"b\\c\n\r\t\b\f\u0001\u001f<&>` + "\u2028ü\x7f" + `"`
	if got != want {
		t.Fatalf("appendString = %s, want %s", got, want)
	}
}

// raw builds a file from a header string and data without any padding.
func raw(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestDecodeRejects(t *testing.T) {
	f32 := func(name string, shape string, b, e int) string {
		return fmt.Sprintf(`%q:{"dtype":"F32","shape":%s,"data_offsets":[%d,%d]}`, name, shape, b, e)
	}
	tooBig := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1)
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"short file", []byte{1, 2, 3}, "file is 3 bytes, shorter than the 8-byte header length"},
		{"header past end", append(binary.LittleEndian.AppendUint64(nil, 100), "{}"...), "header length 100 runs past the end of the file (2 bytes follow)"},
		{"header too large", append(tooBig, "{}"...), "exceeds the 104857600-byte limit"},
		{"empty header", raw("", nil), "header does not start with '{'"},
		{"not an object", raw(`[1,2]`, nil), "header does not start with '{'"},
		{"invalid JSON", raw(`{"a":`, nil), `tensor "a": unexpected end of JSON`},
		{"missing colon", raw(`{"a" 1}`, nil), `tensor "a": expected colon after object key`},
		{"bad key", raw(`{1:2}`, nil), "header JSON: invalid character '1'"},
		{"truncated object", raw(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`, make([]byte, 4)), "header JSON: unexpected end of JSON"},
		{"not UTF-8", raw("{\"\xff\":1}", nil), "not valid UTF-8"},
		{"garbage after object", raw(`{}  x`, nil), "1 bytes after the JSON object"},
		{"unknown dtype", raw(`{"w":{"dtype":"F31","shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "w": unknown dtype "F31"`},
		{"missing dtype", raw(`{"w":{"shape":[1],"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "w": missing dtype`},
		{"missing shape", raw(`{"w":{"dtype":"F32","data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "w": missing shape`},
		{"null shape", raw(`{"w":{"dtype":"F32","shape":null,"data_offsets":[0,4]}}`, make([]byte, 4)), `tensor "w": missing shape`},
		{"missing offsets", raw(`{"w":{"dtype":"F32","shape":[1]}}`, nil), `tensor "w": missing data_offsets`},
		{"three offsets", raw(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, make([]byte, 4)), `tensor "w": data_offsets has 3 numbers, want 2`},
		{"unknown field", raw(`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, make([]byte, 4)), `tensor "w": json: unknown field "x"`},
		{"tensor not an object", raw(`{"w":7}`, nil), `tensor "w": json: cannot unmarshal`},
		{"negative dim", raw("{"+f32("w", "[2,-1]", 0, 0)+"}", nil), `tensor "w": shape [2 -1]: dimension 1 is negative`},
		{"fractional dim", raw("{"+f32("w", "[1.5]", 0, 4)+"}", make([]byte, 4)), `tensor "w": json: cannot unmarshal number 1.5`},
		{"overflowing shape", raw("{"+f32("w", "[1099511627776,1099511627776]", 0, 0)+"}", nil), `tensor "w": shape [1099511627776 1099511627776] of F32: byte size overflows int64`},
		{"negative offset", raw("{"+f32("w", "[1]", -4, 0)+"}", nil), `tensor "w": data_offsets [-4 0] are not 0 <= begin <= end`},
		{"end before begin", raw("{"+f32("w", "[0]", 8, 4)+"}", nil), `tensor "w": data_offsets [8 4] are not 0 <= begin <= end`},
		{"size mismatch", raw("{"+f32("w1", "[3,4]", 0, 40)+"}", make([]byte, 40)), `tensor "w1": shape [3 4] needs 48 bytes of F32, data_offsets give 40`},
		{"overlap", raw("{"+f32("a", "[2]", 0, 8)+","+f32("b", "[2]", 4, 12)+"}", make([]byte, 12)), `tensor "b": data_offsets [4 12] overlap tensor "a", which ends at 8`},
		{"same range twice", raw("{"+f32("a", "[1]", 0, 4)+","+f32("b", "[1]", 0, 4)+"}", make([]byte, 4)), `tensor "b": data_offsets [0 4] overlap tensor "a"`},
		{"gap", raw("{"+f32("a", "[1]", 0, 4)+","+f32("b", "[1]", 8, 12)+"}", make([]byte, 12)), `tensor "b": data_offsets [8 12] leave a gap of 4 bytes after offset 4`},
		{"not starting at 0", raw("{"+f32("a", "[1]", 4, 8)+"}", make([]byte, 8)), `tensor "a": data_offsets [4 8] leave a gap of 4 bytes after offset 0`},
		{"offsets past data", raw("{"+f32("a", "[2]", 0, 8)+"}", make([]byte, 4)), "tensors need 8 bytes of data, file has 4"},
		{"trailing bytes", raw("{"+f32("a", "[2]", 0, 8)+"}", make([]byte, 11)), "3 trailing bytes after the last tensor"},
		{"duplicate name", raw("{"+f32("a", "[1]", 0, 4)+","+f32("a", "[1]", 4, 8)+"}", make([]byte, 8)), `duplicate header key "a"`},
		{"duplicate metadata", raw(`{"__metadata__":{},"__metadata__":{}}`, nil), `duplicate header key "__metadata__"`},
		{"metadata not strings", raw(`{"__metadata__":{"k":1}}`, nil), "__metadata__ must map strings to strings"},
		{"empty name", raw("{"+f32("", "[1]", 0, 4)+"}", make([]byte, 4)), "tensor with an empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Decode(tt.in)
			if err == nil {
				t.Fatalf("Decode succeeded with %+v, want error containing %q", f, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode error = %q, want it to contain %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Decode error %q does not wrap ErrInvalid", err)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	ok := FromU8("ok", []int64{1}, []uint8{1})
	tests := []struct {
		name string
		f    *File
		want string
	}{
		{"duplicate", &File{Tensors: []Tensor{ok, ok}}, `duplicate tensor name "ok"`},
		{"short data", &File{Tensors: []Tensor{FromF32("w", []int64{2, 2}, []float32{1, 2, 3})}}, `tensor "w": shape [2 2] needs 16 bytes of F32, data has 12`},
		{"unknown dtype", &File{Tensors: []Tensor{{Name: "w", DType: "F128", Shape: []int64{1}, Data: make([]byte, 16)}}}, `tensor "w": unknown dtype "F128"`},
		{"negative dim", &File{Tensors: []Tensor{{Name: "w", DType: DTypeU8, Shape: []int64{-1}}}}, `tensor "w": shape [-1]: dimension 0 is negative`},
		{"reserved name", &File{Tensors: []Tensor{FromU8("__metadata__", []int64{1}, []uint8{1})}}, `tensor name "__metadata__" is reserved`},
		{"empty name", &File{Tensors: []Tensor{FromU8("", []int64{1}, []uint8{1})}}, "tensor with an empty name"},
		{"invalid UTF-8 name", &File{Tensors: []Tensor{FromU8("\xff", []int64{1}, []uint8{1})}}, "is not valid UTF-8"},
		{"invalid UTF-8 metadata", &File{Metadata: map[string]string{"k": "\xfe"}}, `__metadata__ entry "k" is not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Encode(tt.f)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Encode error = %v, want it to contain %q", err, tt.want)
			}
			if err := Write(io.Discard, tt.f); err == nil {
				t.Fatalf("Write succeeded, want error containing %q", tt.want)
			}
		})
	}
}

// failReader fails the test's expectation by erroring on any read.
type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, errors.New("read past the header") }

func TestDecodeHeader(t *testing.T) {
	enc, err := Encode(sampleFile())
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	want := 8 + int64(binary.LittleEndian.Uint64(enc))
	// Only the header is readable: DecodeHeader must not touch the data.
	h, n, err := DecodeHeader(io.MultiReader(bytes.NewReader(enc[:want]), failReader{}))
	if err != nil {
		t.Fatalf("DecodeHeader: %v", err)
	}
	if n != want {
		t.Errorf("headerLen = %d, want %d", n, want)
	}
	if got := int64(len(enc)) - n; h.DataLen() != got {
		t.Errorf("DataLen = %d, want %d", h.DataLen(), got)
	}
	f, _ := Decode(enc)
	if len(h.Tensors) != len(f.Tensors) {
		t.Fatalf("header has %d tensors, file %d", len(h.Tensors), len(f.Tensors))
	}
	for i, ti := range h.Tensors {
		ft := f.Tensors[i]
		if ti.Name != ft.Name || ti.DType != ft.DType || !slices.Equal(ti.Shape, ft.Shape) || ti.Offsets[1]-ti.Offsets[0] != int64(len(ft.Data)) {
			t.Errorf("header tensor %d = %+v, file has %s %s %v with %d bytes", i, ti, ft.Name, ft.DType, ft.Shape, len(ft.Data))
		}
	}
	if ti, ok := h.Tensor("step"); !ok || ti.DType != DTypeI64 {
		t.Errorf("Tensor(step) = %+v, %v; want the I64 scalar", ti, ok)
	}
	if _, ok := h.Tensor("nope"); ok {
		t.Errorf("Tensor(nope) found a tensor")
	}
	if h.Metadata["format"] != "pt" {
		t.Errorf("Metadata = %v, want format=pt", h.Metadata)
	}
}

func TestDecodeHeaderShortStream(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"no length", []byte{1, 2}, "file is 2 bytes, shorter than the 8-byte header length"},
		{"short header", raw(`{"a":1}`, nil)[:10], "header length 7 runs past the end of the file (2 bytes follow)"},
		{"bad header", raw(`{"a":1}`, nil), `tensor "a"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := DecodeHeader(bytes.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("DecodeHeader error = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
	_, _, err := DecodeHeader(failReader{})
	if err == nil || errors.Is(err, ErrInvalid) {
		t.Fatalf("DecodeHeader on a failing reader = %v, want an I/O error that is not ErrInvalid", err)
	}
}

func TestDecodeAliasesCapacity(t *testing.T) {
	enc, err := Encode(goldenFile())
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	f, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	a, _ := f.Tensor("a")
	_ = append(a.Data, 0xee) // must not overwrite b's first byte
	if b, _ := f.Tensor("b"); b.Data[0] != 1 {
		t.Fatalf("appending to a's data clobbered b: b.Data = %v", b.Data)
	}
}

// sameFile compares tensors and metadata, treating nil and empty alike.
func sameFile(got, want *File) error {
	if len(got.Tensors) != len(want.Tensors) {
		return fmt.Errorf("got %d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for i, g := range got.Tensors {
		w := want.Tensors[i]
		if g.Name != w.Name || g.DType != w.DType || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Data, w.Data) {
			return fmt.Errorf("tensor %d = {%q %s %v %x}, want {%q %s %v %x}", i, g.Name, g.DType, g.Shape, g.Data, w.Name, w.DType, w.Shape, w.Data)
		}
	}
	if len(got.Metadata) != len(want.Metadata) {
		return fmt.Errorf("metadata = %v, want %v", got.Metadata, want.Metadata)
	}
	for k, v := range want.Metadata {
		if gv, ok := got.Metadata[k]; !ok || gv != v {
			return fmt.Errorf("metadata[%q] = %q, want %q", k, gv, v)
		}
	}
	return nil
}
