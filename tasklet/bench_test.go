package tasklet

import (
	"context"
	"slices"
	"testing"
	"time"
)

// BenchmarkEmptyTaskletRoundTrip measures one whole tasklet over loopback
// TCP with an executor that returns at once: stream open and protocol
// negotiation, offer signing and checks, accept, the receipt's EIP-712
// signature and its verification.
//
//	go test ./tasklet -run '^$' -bench EmptyTaskletRoundTrip -benchtime 2000x
func BenchmarkEmptyTaskletRoundTrip(b *testing.B) {
	noop := ExecutorFunc(func(_ context.Context, spec Spec, _ func(int, int)) (Output, error) {
		return hashOutput(spec), nil
	})
	n := newTestNet(b, ServiceConfig{
		Executors:      map[string]Executor{ExecutorBuiltin: noop},
		HeartbeatEvery: time.Hour, // irrelevant here
	})
	spec := testSpec(b)
	spec.Deadline = time.Now().Add(time.Hour).UnixMilli()
	ctx := context.Background()
	if _, err := n.offer(ctx, spec, nil, OfferOptions{}); err != nil { // warm up the connection
		b.Fatalf("Offer: %v", err)
	}

	durations := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		t0 := time.Now()
		if _, err := n.offer(ctx, spec, nil, OfferOptions{}); err != nil {
			b.Fatalf("Offer: %v", err)
		}
		durations = append(durations, time.Since(t0))
	}
	total := time.Since(start)
	b.StopTimer()

	slices.Sort(durations)
	pct := func(p float64) float64 {
		return float64(durations[int(p*float64(len(durations)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(durations))/total.Seconds(), "tasklets/s")
}
