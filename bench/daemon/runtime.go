package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Go runtime figures both daemons export to Prometheus (both run
// client_golang's Go collector), so their memory can be split into heap,
// stacks and GC metadata.
const (
	heapInuse  = "go_memstats_heap_inuse_bytes"
	stackInuse = "go_memstats_stack_inuse_bytes"
	gcSys      = "go_memstats_gc_sys_bytes"
	goSys      = "go_memstats_sys_bytes"
	goroutines = "go_goroutines"
	threads    = "go_threads"
)

// scrapeGo reads the Go runtime figures from a daemon's Prometheus endpoint.
func scrapeGo(ctx context.Context, c *http.Client, url string) (map[string]float64, error) {
	if url == "" {
		return nil, fmt.Errorf("the daemon exports no metrics endpoint")
	}
	text, err := get(ctx, c, url)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape %s: %w", url, err)
	}
	return parseProm(text, []string{heapInuse, stackInuse, gcSys, goSys, goroutines, threads}), nil
}

// parseProm picks the unlabelled samples named in names out of Prometheus
// text exposition format. Names it does not find are absent from the map.
func parseProm(text string, names []string) map[string]float64 {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !want[f[0]] {
			continue
		}
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[f[0]] = v
		}
	}
	return out
}
