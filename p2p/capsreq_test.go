package p2p

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
)

// FuzzReadCapsAnswer feeds arbitrary bytes to the record request's reader,
// as a peer may answer: it never returns more than MaxCapsSize bytes, and
// what it returns is exactly the bytes after the length.
func FuzzReadCapsAnswer(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{3, 'a', 'b', 'c'})
	f.Add([]byte{0x81, 0x80, 0x02})
	f.Add(binary.AppendUvarint(nil, MaxCapsSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := readCapsAnswer(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		if len(b) > MaxCapsSize {
			t.Fatalf("returned %d bytes, over the %d byte limit", len(b), MaxCapsSize)
		}
		n, k := binary.Uvarint(data)
		if k <= 0 || n != uint64(len(b)) || !bytes.Equal(b, data[k:k+len(b)]) {
			t.Fatalf("returned %d bytes that are not the %d after the length", len(b), n)
		}
	})
}

func TestReadCapsAnswerRefusesOversize(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		wantLen int
		wantErr bool
	}{
		{name: "none", data: []byte{0}, wantLen: 0},
		{name: "three bytes", data: []byte{3, 'a', 'b', 'c'}, wantLen: 3},
		{name: "cut short", data: []byte{3, 'a'}, wantErr: true},
		{name: "empty", data: nil, wantErr: true},
		{name: "over the limit", data: []byte{0x81, 0x80, 0x02}, wantErr: true}, // 32769
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := readCapsAnswer(bufioReader(tt.data))
			if (err != nil) != tt.wantErr || (err == nil && len(b) != tt.wantLen) {
				t.Errorf("readCapsAnswer = %d bytes, %v; want %d bytes, error %v", len(b), err, tt.wantLen, tt.wantErr)
			}
		})
	}
}

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }
