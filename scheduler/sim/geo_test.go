package sim

import (
	"strings"
	"testing"
	"time"
)

func TestLoadGeo(t *testing.T) {
	g, err := LoadGeo()
	if err != nil {
		t.Fatalf("LoadGeo() error = %v", err)
	}
	if !strings.Contains(g.About, "Yuan et al.") {
		t.Errorf("About = %q, want the Yuan et al. attribution kept", g.About)
	}
	sc, err := g.Scenario("world_wide_8")
	if err != nil {
		t.Fatalf("Scenario(world_wide_8) error = %v", err)
	}
	want := []string{"Oregon", "Virginia", "Ohio", "Tokyo", "Seoul", "London", "Frankfurt", "Ireland"}
	if strings.Join(sc.Regions, ",") != strings.Join(want, ",") {
		t.Errorf("world_wide_8 regions = %v, want %v", sc.Regions, want)
	}
	tests := []struct {
		a, b string
		rtt  time.Duration
		bps  float64
	}{
		{"Oregon", "Virginia", 67 * time.Millisecond, 0.79e9 / 8},
		{"Virginia", "Oregon", 67 * time.Millisecond, 0.79e9 / 8},
		{"Seoul", "London", 238 * time.Millisecond, 0.342e9 / 8},
		{"Tokyo", "Tokyo", 5 * time.Millisecond, 2e9 / 8},
	}
	for _, tt := range tests {
		l, err := g.Link(tt.a, tt.b)
		if err != nil {
			t.Fatalf("Link(%s, %s) error = %v", tt.a, tt.b, err)
		}
		if l.RTT != tt.rtt || l.BandwidthBps != tt.bps {
			t.Errorf("Link(%s, %s) = %v, %v B/s; want %v, %v B/s", tt.a, tt.b, l.RTT, l.BandwidthBps, tt.rtt, tt.bps)
		}
	}
	if _, err := g.Link("California", "Tokyo"); err == nil {
		t.Error("Link(California, Tokyo) = nil error, want one: the data has no such measurement")
	}
	mu, err := g.Scenario("multi_university_2")
	if err != nil {
		t.Fatalf("Scenario(multi_university_2) error = %v", err)
	}
	if mu.Intra.RTT != time.Millisecond || mu.Intra.BandwidthBps != 5e9/8 {
		t.Errorf("multi_university_2 intra = %+v, want its own 1 ms, 5 Gbps", mu.Intra)
	}
}

func TestParseGeoRejects(t *testing.T) {
	const ok = `{"about":"x","intra_region":{"rtt_ms":5,"bandwidth_gbps":2},"regions":["A","B"],` +
		`"links":[{"a":"A","b":"B","rtt_ms":10,"bandwidth_gbps":1}],"scenarios":{"s":{"regions":["A","B"],"gpus_per_region":1}}}`
	if _, err := ParseGeo([]byte(ok)); err != nil {
		t.Fatalf("ParseGeo(valid) error = %v", err)
	}
	tests := []struct {
		name, old, new string
	}{
		{"no about", `"about":"x"`, `"about":""`},
		{"unknown field", `"about":"x"`, `"about":"x","extra":1`},
		{"trailing data", `}}}`, `}}} {}`},
		{"duplicate region", `["A","B"],"links"`, `["A","B","A"],"links"`},
		{"unknown link region", `"b":"B"`, `"b":"C"`},
		{"self link", `"b":"B"`, `"b":"A"`},
		{"duplicate link", `"bandwidth_gbps":1}]`, `"bandwidth_gbps":1},{"a":"B","b":"A","rtt_ms":1,"bandwidth_gbps":1}]`},
		{"zero rtt", `"rtt_ms":10`, `"rtt_ms":0`},
		{"negative bandwidth", `"bandwidth_gbps":1}`, `"bandwidth_gbps":-1}`},
		{"unlinked scenario pair", `"links":[{"a":"A","b":"B","rtt_ms":10,"bandwidth_gbps":1}]`, `"links":[]`},
		{"unknown scenario region", `"regions":["A","B"],"gpus`, `"regions":["A","Z"],"gpus`},
		{"no intra", `"intra_region":{"rtt_ms":5,"bandwidth_gbps":2},`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(ok, tt.old, tt.new, 1)
			if bad == ok {
				t.Fatalf("test case does not change the input")
			}
			if _, err := ParseGeo([]byte(bad)); err == nil {
				t.Errorf("ParseGeo(%s) = nil error, want one", bad)
			}
		})
	}
	if _, err := ParseGeo(make([]byte, MaxGeoBytes+1)); err == nil {
		t.Error("ParseGeo(oversized) = nil error, want one")
	}
}
