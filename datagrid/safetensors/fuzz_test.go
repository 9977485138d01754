package safetensors

import (
	"bytes"
	"testing"
)

func FuzzDecode(f *testing.F) {
	for _, file := range []*File{goldenFile(), sampleFile(), {}} {
		enc, err := Encode(file)
		if err != nil {
			f.Fatalf("Encode seed: %v", err)
		}
		f.Add(enc)
	}
	f.Add(raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)))
	f.Add(raw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, make([]byte, 12)))
	f.Add(raw(`{"__metadata__":{"k":"v"}}`, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := Decode(b)
		if err != nil {
			return
		}
		enc, err := Encode(file)
		if err != nil {
			t.Fatalf("Encode of a decoded file failed: %v", err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode of the re-encoding failed: %v", err)
		}
		if err := sameFile(again, file); err != nil {
			t.Fatalf("re-decoded file differs: %v", err)
		}
		enc2, err := Encode(again)
		if err != nil || !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not a fixed point (err %v)", err)
		}
		if _, n, err := DecodeHeader(bytes.NewReader(b)); err != nil || n > int64(len(b)) {
			t.Fatalf("DecodeHeader disagrees with Decode: headerLen %d of %d bytes, err %v", n, len(b), err)
		}
	})
}
