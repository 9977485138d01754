package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gridswarm/gridswarm/scheduler"
)

// series is one scrape: metric family name → its families' samples.
type series map[string]*dto.MetricFamily

// scrape reads url (with the API token when token is set) and parses it
// with Prometheus's own text parser.
func scrape(t *testing.T, url, token string) series {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d", url, res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// value sums the samples of name whose labels include every pair in want
// ("k=v"); a missing series is 0.
func (s series) value(name string, want ...string) float64 {
	f, ok := s[name]
	if !ok {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum
}

// During and after a two-round job, the coordinator's and the worker's
// /metrics move the way the job went: jobs by status, rounds, tasklet
// attempts, placement, the worker's offers, runs, seconds and slots, and
// the data grid's bytes added, fetched and served.
func TestMetricsFollowAJob(t *testing.T) {
	skipShort(t)
	ds := swarmOf(t, 2)
	coord, worker := ds[0], ds[1]
	tokenB, err := os.ReadFile(filepath.Join(coord.dir, "api.token"))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tokenB))
	before := scrape(t, coord.ep.Metrics, "")
	wBefore := scrape(t, worker.ep.Metrics, "")

	cid := importMNIST(t, coord)
	const rounds = 3
	id := submit(t, coord, jobFile(t, cid, func(s string) string {
		s = strings.Replace(s, "rounds: 10", fmt.Sprintf("rounds: %d", rounds), 1)
		return strings.Replace(s, "inner_steps: 200", "inner_steps: 60", 1)
	}))
	// During the job: it is counted as running, and the worker's slots
	// show it busy at some scrape.
	busySeen := false
	eventually(t, 2*time.Minute, func() (bool, string) {
		c := scrape(t, coord.ep.Metrics, "")
		w := scrape(t, worker.ep.Metrics, "")
		if w.value("gridswarm_worker_slots_busy") > 0 {
			busySeen = true
		}
		running := c.value("gridswarm_jobs", "status=running")
		return running == 1 && busySeen, fmt.Sprintf("jobs running %v, worker busy seen %v", running, busySeen)
	})
	waitJob(t, coord, id, 3*time.Minute, func(j scheduler.Job) bool { return j.Status == scheduler.StatusDone })

	// After: the API listener serves the same series with the token.
	after := scrape(t, coord.ep.HTTP+"/metrics", token)
	wAfter := scrape(t, worker.ep.Metrics, "")
	moved := func(name string, b, a series, atLeast float64, labels ...string) {
		t.Helper()
		if d := a.value(name, labels...) - b.value(name, labels...); d < atLeast {
			t.Errorf("%s%v moved by %v, want at least %v", name, labels, d, atLeast)
		}
	}
	moved("gridswarm_jobs", before, after, 1, "status=done")
	moved("gridswarm_jobs_finished_total", before, after, 1, "status=done")
	moved("gridswarm_rounds_total", before, after, rounds, "status=done")
	moved("gridswarm_coordinator_tasklets_total", before, after, rounds, "outcome=done", "executor=builtin")
	moved("gridswarm_coordinator_tasklet_duration_seconds", before, after, rounds, "executor=builtin")
	moved("gridswarm_placement_decisions_total", before, after, rounds, "decision=placed")
	moved("gridswarm_datagrid_added_bytes_total", before, after, 1<<20) // MNIST, then each round's weights
	moved("gridswarm_datagrid_served_bytes_total", before, after, 1)
	moved("gridswarm_datagrid_pins", before, after, 1)
	moved("gridswarm_worker_offers_total", wBefore, wAfter, rounds, "outcome=accepted")
	moved("gridswarm_worker_tasklets_total", wBefore, wAfter, rounds, "executor=builtin", "outcome=ok")
	moved("gridswarm_worker_tasklet_seconds_total", wBefore, wAfter, 0.001, "executor=builtin")
	moved("gridswarm_datagrid_fetched_bytes_total", wBefore, wAfter, 1)
	decided := 0.0
	for _, rd := range showJob(t, coord, id).Rounds {
		for _, tk := range rd.Tasklets {
			if tk.Check != nil && tk.Check.Outcome != "" {
				decided++
			}
		}
	}
	moved("gridswarm_verify_spot_checks_total", before, after, decided)
	if d := after.value("gridswarm_verify_spot_checks_total") - before.value("gridswarm_verify_spot_checks_total"); d != decided {
		t.Errorf("gridswarm_verify_spot_checks_total moved by %v; the job decided %v spot checks", d, decided)
	}
	if n := after.value("gridswarm_jobs", "status=running"); n != 0 {
		t.Errorf("gridswarm_jobs{status=running} = %v after the job ended", n)
	}
	for _, name := range []string{"gridswarm_verify_mismatches_total", "gridswarm_settle_roots_posted_total"} {
		if _, ok := after[name]; !ok {
			t.Errorf("%s is not exposed", name)
		}
	}
}
