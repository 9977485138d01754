package main

import (
	"os"
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []float64
		want spread
	}{
		{"empty", nil, spread{}},
		{"one", []float64{4}, spread{4, 4, 4}},
		{"odd unsorted", []float64{9, 1, 5}, spread{1, 5, 9}},
		{"even takes the mean of the middle two", []float64{4, 1, 3, 10}, spread{1, 3.5, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := summarize(tc.in); got != tc.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseStatus(t *testing.T) {
	const full = "Name:\tgridswarm\nVmHWM:\t   40000 kB\nVmRSS:\t   38000 kB\nRssAnon:\t    9000 kB\nRssFile:\t   29000 kB\nThreads:\t12\n"
	for _, tc := range []struct {
		name    string
		in      string
		want    memory
		wantErr string
	}{
		{"all fields", full, memory{RSS: 38000, HWM: 40000, Anon: 9000, File: 29000}, ""},
		{"missing field", "VmRSS:\t1 kB\n", memory{}, "lacks one of"},
		{"not kB", strings.Replace(full, "38000 kB", "38000 MB", 1), memory{}, "not a size in kB"},
		{"not a number", strings.Replace(full, "38000 kB", "lots kB", 1), memory{}, "not a size in kB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseStatus error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parseStatus = %+v, %v; want %+v, nil", got, err, tc.want)
			}
		})
	}
}

func TestParseRollup(t *testing.T) {
	// The shape of Linux 6.x's /proc/<pid>/smaps_rollup.
	const full = "55d0c0000000-7ffc00000000 ---p 00000000 00:00 0                          [rollup]\nRss:               57100 kB\nPss:               55012 kB\nPrivate_Clean:     39000 kB\nPrivate_Dirty:     18100 kB\nAnonymous:         17200 kB\nSwap:                  0 kB\n"
	for _, tc := range []struct {
		name    string
		in      string
		want    int64
		wantErr string
	}{
		{"anonymous", full, 17200, ""},
		{"missing", "Rss: 1 kB\n", 0, "no Anonymous line"},
		{"not kB", strings.Replace(full, "17200 kB", "17200 MB", 1), 0, "not a size in kB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseRollup(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseRollup error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parseRollup = %d, %v; want %d, nil", got, err, tc.want)
			}
		})
	}
}

// On this machine the reader finds the benchmark's own private memory.
func TestReadMemorySelf(t *testing.T) {
	m, err := readMemory(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.Private <= 0 || m.Private > m.RSS {
		t.Errorf("own memory %+v: want 0 < private anonymous <= RSS", m)
	}
}

func TestLoopbackTCP(t *testing.T) {
	const id = "/p2p/12D3KooWSsqNccJQpmPN32y7aeEgpCKj7wSUWdf3Xfk2S7mBE2ua"
	for _, tc := range []struct {
		name string
		in   []string
		want string
	}{
		{"none", nil, ""},
		{"skips QUIC and websocket", []string{"/ip4/127.0.0.1/udp/1/quic-v1" + id, "/ip4/127.0.0.1/tcp/2/ws" + id, "/ip4/127.0.0.1/tcp/3" + id}, "/ip4/127.0.0.1/tcp/3" + id},
		{"needs the peer ID", []string{"/ip4/127.0.0.1/tcp/3"}, ""},
		{"skips other hosts", []string{"/ip4/10.0.0.1/tcp/3" + id}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := loopbackTCP(tc.in); got != tc.want {
				t.Errorf("loopbackTCP(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{max: 5}
	for _, s := range []string{"abc", "defg", "h"} {
		if _, err := b.Write([]byte(s)); err != nil {
			t.Fatalf("Write(%q): %v", s, err)
		}
	}
	if got, want := b.String(), "defgh"; got != want {
		t.Errorf("tail = %q, want %q", got, want)
	}
}

func TestParseProm(t *testing.T) {
	const text = `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 62
go_memstats_heap_inuse_bytes 3.497984e+06
go_gc_duration_seconds{quantile="0"} 1e-05
go_threads not-a-number
`
	got := parseProm(text, []string{"go_goroutines", "go_memstats_heap_inuse_bytes", "go_threads", "go_gc_duration_seconds", "absent"})
	want := map[string]float64{"go_goroutines": 62, "go_memstats_heap_inuse_bytes": 3497984}
	if len(got) != len(want) {
		t.Fatalf("parseProm = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parseProm[%s] = %v, want %v", k, got[k], v)
		}
	}
}
