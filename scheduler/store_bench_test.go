package scheduler

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gridswarm/gridswarm/internal/fsutil"
)

// BenchmarkStoreSave measures what one driver event costs to persist in a
// job of 10 and of 1,000 rounds (4 tasklets each): "journal" is Store.Save,
// "rewrite" the whole-file rewrite it replaced. bytes-written/op counts
// every byte written, compactions included.
//
//	go test -run '^$' -bench BenchmarkStoreSave -benchmem ./scheduler/
func BenchmarkStoreSave(b *testing.B) {
	for _, rounds := range []int{10, 1000} {
		b.Run(fmt.Sprintf("journal/rounds=%d", rounds), func(b *testing.B) {
			s := openTestStore(b, b.TempDir(), StoreOptions{})
			j := sampleJob("bench-1", rounds, 4)
			if err := s.Save(j); err != nil {
				b.Fatal(err)
			}
			before := s.bytes
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				recordEvent(j, i)
				if err := s.Save(j); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(s.bytes-before)/float64(b.N), "bytes-written/op")
		})
		b.Run(fmt.Sprintf("rewrite/rounds=%d", rounds), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "bench-1.json")
			j := sampleJob("bench-1", rounds, 4)
			var written int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				recordEvent(j, i)
				buf, err := json.MarshalIndent(j, "", " ")
				if err != nil {
					b.Fatal(err)
				}
				if err := fsutil.WriteFile(path, buf, 0o600); err != nil {
					b.Fatal(err)
				}
				written += int64(len(buf))
			}
			b.ReportMetric(float64(written)/float64(b.N), "bytes-written/op")
		})
	}
}
