package placement

import (
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestCheckReasons(t *testing.T) {
	task := mkTasklet("t")
	tests := []struct {
		name string
		mod  func(*Peer)
		want string
	}{
		{"feasible", func(*Peer) {}, ""},
		{"nan bandwidth", func(p *Peer) { p.BandwidthBps = math.NaN() }, ReasonInvalid},
		{"negative rtt", func(p *Peer) { p.RTT = -time.Millisecond }, ReasonInvalid},
		{"reputation above one", func(p *Peer) { p.Reputation = 1.5 }, ReasonInvalid},
		{"infinite price", func(p *Peer) { p.PricePerHour = math.Inf(1) }, ReasonInvalid},
		{"site too long", func(p *Peer) { p.Site = strings.Repeat("x", MaxSiteLen+1) }, ReasonInvalid},
		{"longest site", func(p *Peer) { p.Site = strings.Repeat("x", MaxSiteLen) }, ""},
		{"banned", func(p *Peer) { p.Banned = true }, ReasonBanned},
		{"not idle", func(p *Peer) { p.Idle = false }, ReasonNotIdle},
		{"no executor", func(p *Peer) { p.Executors = []string{"wasm"} }, ReasonExecutor},
		{"gpu memory", func(p *Peer) { p.GPUMemFree = 8*gib - 1 }, ReasonGPUMemory},
		{"gpu memory exact", func(p *Peer) { p.GPUMemFree = 8 * gib }, ""},
		{"disk", func(p *Peer) { p.DiskFree = gib }, ReasonDisk},
		{"price", func(p *Peer) { p.PricePerHour = 1.01 }, ReasonPrice},
		{"no throughput", func(p *Peer) { p.Throughput = 0 }, ReasonNoEstimate},
		{"no bandwidth", func(p *Peer) { p.BandwidthBps = 0 }, ReasonNoEstimate},
		{"old version", func(p *Peer) { p.Version = "0.1.9" }, ReasonVersion},
		{"pre-release of minimum", func(p *Peer) { p.Version = "0.2.0-rc.1" }, ReasonVersion},
		{"unparsable version", func(p *Peer) { p.Version = "latest" }, ReasonVersion},
		// Cheap checks run first: a banned busy peer is reported as banned.
		{"banned and busy", func(p *Peer) { p.Banned, p.Idle = true, false }, ReasonBanned},
		{"busy and no executor", func(p *Peer) { p.Idle, p.Executors = false, nil }, ReasonNotIdle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mkPeer("p", tt.mod)
			if got := Check(&p, &task); got != tt.want {
				t.Errorf("Check() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCheckOptionalRequirements(t *testing.T) {
	// Zero GPU, disk, price and version requirements accept any peer value.
	task := mkTasklet("t", func(t *Tasklet) { t.GPUMem, t.Disk, t.MaxPrice, t.MinVersion = 0, 0, 0, "" })
	p := mkPeer("p", func(p *Peer) { p.GPUMemFree, p.DiskFree, p.PricePerHour, p.Version = 0, 0, 99, "" })
	if got := Check(&p, &task); got != "" {
		t.Errorf("Check() = %q, want feasible", got)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"1.2.3", "1.2.3", 0},
		{"v1.2.3", "1.2.3", 0},
		{"1.2", "1.2.0", 0},
		{"1.10.0", "1.9.9", 1},
		{"0.9", "1.0", -1},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.0.0+build7", "1.0.0", 0},
		{"2", "1.99.99", 1},
	}
	for _, tt := range tests {
		va, okA := parseVersion(tt.a)
		vb, okB := parseVersion(tt.b)
		if !okA || !okB {
			t.Fatalf("parseVersion(%q, %q) ok = %v, %v, want true", tt.a, tt.b, okA, okB)
		}
		if got := va.compare(vb); got != tt.want {
			t.Errorf("compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, bad := range []string{"", "x", "1.2.3.4", "1..2", "1.2-", "-1", "v"} {
		if _, ok := parseVersion(bad); ok {
			t.Errorf("parseVersion(%q) ok = true, want false", bad)
		}
	}
}

func TestTallyOrderAndExamples(t *testing.T) {
	var tl tally
	for _, e := range []struct{ reason, peer string }{
		{"b", "p1"}, {"a", "p2"}, {"b", "p3"}, {"b", "p4"}, {"b", "p5"}, {"c", "p6"},
	} {
		tl.add(e.reason, &Peer{ID: e.peer})
	}
	want := []Rejection{
		{Reason: "b", Count: 4, Examples: []string{"p1", "p3", "p4"}},
		{Reason: "a", Count: 1, Examples: []string{"p2"}},
		{Reason: "c", Count: 1, Examples: []string{"p6"}},
	}
	if got := tl.list(); !reflect.DeepEqual(got, want) {
		t.Errorf("list() = %+v, want %+v", got, want)
	}
}
