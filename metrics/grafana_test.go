package metrics

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// recordingRegisterer keeps the names of what is registered.
type recordingRegisterer struct{ names map[string]bool }

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	fq := regexp.MustCompile(`fqName: "([^"]+)"`)
	for d := range ch {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}
func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}
func (r *recordingRegisterer) Unregister(prometheus.Collector) bool { return false }

// TestGrafanaDashboardSeries checks that every gridswarm_ series the
// Grafana dashboard queries exists, so a rename cannot leave a panel empty.
func TestGrafanaDashboardSeries(t *testing.T) {
	b, err := os.ReadFile("../docs/grafana/gridswarm.json")
	if err != nil {
		t.Fatal(err)
	}
	reg := &recordingRegisterer{names: map[string]bool{
		// registered by the node itself (node.registerMetrics)
		"gridswarm_peers_connected": true, "gridswarm_dht_routing_table_size": true, "gridswarm_uptime_seconds": true,
	}}
	if _, err := New(reg, Sources{}); err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`gridswarm_[a-z_]+`).FindAllString(string(b), -1)
	if len(used) < 20 {
		t.Fatalf("the dashboard queries only %d series", len(used))
	}
	for _, name := range used {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !reg.names[base] {
			t.Errorf("the Grafana dashboard queries %s, which no collector defines", name)
		}
	}
}
