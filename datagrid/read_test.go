package datagrid

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// ReadFile returns a file's bytes whatever its size and shape (one leaf,
// many, none) and refuses one over the caller's limit or a folder.
func TestReadFile(t *testing.T) {
	ctx := context.Background()
	g := newOfflineGrid(t, 0)
	file := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + i/251)
		}
		return b
	}
	for _, tt := range []struct {
		name    string
		data    []byte
		max     int64
		wantErr string
	}{
		{"empty", nil, 10, ""},
		{"one byte", file(1), 1, ""},
		{"one leaf", file(1000), 1 << 20, ""},
		{"many leaves, at the limit", file(3<<20 + 17), 3<<20 + 17, ""},
		{"one byte over the limit", file(1001), 1000, "1001 bytes, over the 1000 byte limit"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := g.AddReader(ctx, bytes.NewReader(tt.data), nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := g.ReadFile(ctx, res.Root, tt.max)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadFile = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.data) || len(got) != cap(got) {
				t.Errorf("ReadFile gave %d bytes (capacity %d), want the %d added", len(got), cap(got), len(tt.data))
			}
		})
	}
	dir := t.TempDir()
	writeRandomFile(t, dir+"/a", 10, 1)
	res, err := g.AddPath(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.ReadFile(ctx, res.Root, 1<<20); err == nil || !strings.Contains(err.Error(), "is not a file") {
		t.Errorf("ReadFile of a folder = %v, want one saying it is not a file", err)
	}
}

// BenchmarkReadFile reads a 3.9 MB local file, a worker's shard at the
// start of each tasklet.
func BenchmarkReadFile(b *testing.B) {
	ctx := context.Background()
	g := newOfflineGrid(b, 0)
	data := make([]byte, 3_920_000)
	for i := range data {
		data[i] = byte(i * 13)
	}
	res, err := g.AddReader(ctx, bytes.NewReader(data), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := g.ReadFile(ctx, res.Root, 8<<20); err != nil {
			b.Fatal(err)
		}
	}
}
