package e2e

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gridswarm/gridswarm/scheduler"
)

// cpuSeconds is the user+system CPU time of a process so far, from
// /proc/<pid>/stat (clock ticks of 1/100 s, USER_HZ on Linux).
func cpuSeconds(t *testing.T, pid int) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name in parentheses: state is field 3,
	// utime 14, stime 15.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	f := strings.Fields(rest)
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// TestBenchDashboard measures the dashboard's first load in headless
// Chromium (bytes over the wire, time to first paint and first contentful
// paint, cache disabled) and the coordinator's CPU cost of a live job page:
// the same job run with and without its page open, alternately.
// Run: BENCH_DASHBOARD=1 go test ./e2e -run TestBenchDashboard -v -timeout 30m
func TestBenchDashboard(t *testing.T) {
	if os.Getenv("BENCH_DASHBOARD") == "" {
		t.Skip("benchmark; set BENCH_DASHBOARD=1 (results go to docs/benchmarks.md)")
	}
	skipShort(t)
	ds := swarmOf(t, 2)
	coord := ds[0]
	tab := browser(t, t.Context())
	if err := chromedp.Do(tab, chromedp.Navigate(loginURL(t, coord)), chromedp.WaitVisible(chromedp.CSS("#nav"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(tab, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatal(err)
	}
	var fp, fcp, kib []float64
	for range 7 {
		// From a blank page, so each load is a new document.
		if err := chromedp.Do(tab, chromedp.Navigate("about:blank"), chromedp.Navigate(coord.ep.HTTP+"/ui/#/swarm"),
			chromedp.WaitVisible(chromedp.CSS("#node-card dl"))); err != nil {
			t.Fatal(err)
		}
		type load struct {
			FP, FCP, Bytes float64
		}
		l, err := chromedp.Run(tab, chromedp.Evaluate[load](`(() => {
			const p = Object.fromEntries(performance.getEntriesByType('paint').map(e => [e.name, e.startTime]));
			const n = performance.getEntriesByType('navigation')[0];
			const bytes = n.transferSize + performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, 0);
			return {FP: p['first-paint'] || 0, FCP: p['first-contentful-paint'] || 0, Bytes: bytes};
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		fp, fcp, kib = append(fp, l.FP), append(fcp, l.FCP), append(kib, l.Bytes/1024)
	}
	t.Logf("first load (cache disabled, %d loads): %.1f KiB over HTTP (median), first paint %.0f ms, first contentful paint %.0f ms (medians; all FCP %v)",
		len(fp), median(kib), median(fp), median(fcp), fcp)

	// CPU of the coordinator over the same job, page open or not.
	cid := importMNIST(t, coord)
	const rounds = 8
	spec := jobFile(t, cid, func(s string) string {
		s = strings.Replace(s, "rounds: 10", fmt.Sprintf("rounds: %d", rounds), 1)
		return strings.Replace(s, "inner_steps: 200", "inner_steps: 60", 1)
	})
	pid := coord.cmd.Process.Pid
	var with, without []float64
	for i := range 6 {
		open := i%2 == 1
		if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
		before := cpuSeconds(t, pid)
		start := time.Now()
		id := submit(t, coord, spec)
		if open {
			if err := chromedp.Do(tab, chromedp.Navigate(coord.ep.HTTP+"/ui/#/job/"+id), chromedp.WaitVisible(chromedp.CSS("#job-status"))); err != nil {
				t.Fatal(err)
			}
		}
		waitJob(t, coord, id, 5*time.Minute, func(j scheduler.Job) bool { return j.Status == scheduler.StatusDone })
		cpu := cpuSeconds(t, pid) - before
		t.Logf("job %d, page open %v: coordinator CPU %.2f s over %.1f s", i, open, cpu, time.Since(start).Seconds())
		if open {
			with = append(with, cpu)
		} else {
			without = append(without, cpu)
		}
	}
	t.Logf("coordinator CPU per %d-round job: median %.2f s with the job page open, %.2f s without: ratio %.2f",
		rounds, median(with), median(without), median(with)/median(without))
}
