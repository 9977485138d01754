package sim

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// geoJSON is the measured inter-region latency and bandwidth published with
// Yuan et al., "Decentralized Training of Foundation Models in Heterogeneous
// Environments" (NeurIPS 2022); its "about" field carries the attribution.
//
//go:embed geo-latency.json
var geoJSON []byte

// MaxGeoBytes bounds the geo file ParseGeo reads.
const MaxGeoBytes = 1 << 20

// Link is the network between two regions, or within one.
type Link struct {
	RTT          time.Duration
	BandwidthBps float64 // bytes per second
}

// Scenario is a named set of regions from the geo file.
type Scenario struct {
	Name          string
	Regions       []string
	GPUsPerRegion int    // the paper's setting; the simulator uses Config.Peers
	Intra         Link   // within one region, for this scenario
	Note          string // caveats recorded with the data
}

// Geo is a validated geo-latency data set.
type Geo struct {
	About     string
	Regions   []string
	Intra     Link
	index     map[string]int
	links     map[[2]int]Link
	scenarios map[string]Scenario
}

type geoFile struct {
	About     string                  `json:"about"`
	Intra     *linkJSON               `json:"intra_region"`
	Regions   []string                `json:"regions"`
	Links     []linkJSON              `json:"links"`
	Scenarios map[string]scenarioJSON `json:"scenarios"`
}

type linkJSON struct {
	A             string  `json:"a"`
	B             string  `json:"b"`
	RTTms         float64 `json:"rtt_ms"`
	BandwidthGbps float64 `json:"bandwidth_gbps"`
}

type scenarioJSON struct {
	Regions       []string  `json:"regions"`
	GPUsPerRegion int       `json:"gpus_per_region"`
	Intra         *linkJSON `json:"intra_region"`
	Note          string    `json:"note"`
}

// LoadGeo parses the copy of the data set embedded in the binary.
func LoadGeo() (*Geo, error) {
	g, err := ParseGeo(geoJSON)
	if err != nil {
		return nil, fmt.Errorf("loading the embedded geo-latency.json: %w", err)
	}
	return g, nil
}

// ParseGeo reads and validates a geo-latency file: every region named once,
// every link between two known regions with a positive RTT and bandwidth,
// and every scenario's regions linked pairwise.
func ParseGeo(data []byte) (*Geo, error) {
	if len(data) > MaxGeoBytes {
		return nil, fmt.Errorf("geo file is %d bytes, more than the %d allowed", len(data), MaxGeoBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f geoFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding geo file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("geo file has data after its JSON object")
	}
	if f.About == "" {
		return nil, errors.New("geo file has no \"about\" attribution")
	}
	if f.Intra == nil {
		return nil, errors.New("geo file has no \"intra_region\" link")
	}
	g := &Geo{About: f.About, Regions: f.Regions, index: map[string]int{}, links: map[[2]int]Link{}, scenarios: map[string]Scenario{}}
	var err error
	if g.Intra, err = toLink(*f.Intra); err != nil {
		return nil, fmt.Errorf("intra_region: %w", err)
	}
	if err := g.addRegions(f.Regions); err != nil {
		return nil, err
	}
	if err := g.addLinks(f.Links); err != nil {
		return nil, err
	}
	if err := g.addScenarios(f.Scenarios); err != nil {
		return nil, err
	}
	return g, nil
}

func toLink(l linkJSON) (Link, error) {
	ok := func(x float64) bool { return x > 0 && !math.IsInf(x, 1) }
	if !ok(l.RTTms) || !ok(l.BandwidthGbps) {
		return Link{}, fmt.Errorf("rtt %v ms and bandwidth %v Gbps must be positive and finite", l.RTTms, l.BandwidthGbps)
	}
	return Link{
		RTT:          time.Duration(l.RTTms * float64(time.Millisecond)),
		BandwidthBps: l.BandwidthGbps * 1e9 / 8,
	}, nil
}

func (g *Geo) addRegions(regions []string) error {
	if len(regions) == 0 {
		return errors.New("geo file lists no regions")
	}
	for i, r := range regions {
		if r == "" {
			return fmt.Errorf("region %d has an empty name", i)
		}
		if _, dup := g.index[r]; dup {
			return fmt.Errorf("region %q is listed twice", r)
		}
		g.index[r] = i
	}
	return nil
}

func (g *Geo) addLinks(links []linkJSON) error {
	for _, l := range links {
		a, okA := g.index[l.A]
		b, okB := g.index[l.B]
		if !okA || !okB {
			return fmt.Errorf("link %s–%s names a region not in \"regions\"", l.A, l.B)
		}
		if a == b {
			return fmt.Errorf("link %s–%s joins a region to itself; use intra_region", l.A, l.B)
		}
		key := pair(a, b)
		if _, dup := g.links[key]; dup {
			return fmt.Errorf("link %s–%s is listed twice", l.A, l.B)
		}
		link, err := toLink(l)
		if err != nil {
			return fmt.Errorf("link %s–%s: %w", l.A, l.B, err)
		}
		g.links[key] = link
	}
	return nil
}

func (g *Geo) addScenarios(scenarios map[string]scenarioJSON) error {
	for name, s := range scenarios {
		sc := Scenario{Name: name, Regions: s.Regions, GPUsPerRegion: s.GPUsPerRegion, Intra: g.Intra, Note: s.Note}
		if len(s.Regions) == 0 || s.GPUsPerRegion < 0 {
			return fmt.Errorf("scenario %s needs regions and a non-negative gpus_per_region", name)
		}
		if s.Intra != nil {
			var err error
			if sc.Intra, err = toLink(*s.Intra); err != nil {
				return fmt.Errorf("scenario %s intra_region: %w", name, err)
			}
		}
		for i, a := range s.Regions {
			if _, ok := g.index[a]; !ok {
				return fmt.Errorf("scenario %s names unknown region %q", name, a)
			}
			for _, b := range s.Regions[:i] {
				if a == b {
					return fmt.Errorf("scenario %s lists region %s twice", name, a)
				}
				if _, err := g.Link(a, b); err != nil {
					return fmt.Errorf("scenario %s: %w", name, err)
				}
			}
		}
		g.scenarios[name] = sc
	}
	return nil
}

func pair(a, b int) [2]int {
	if a > b {
		a, b = b, a
	}
	return [2]int{a, b}
}

// Link returns the link between two regions; a region to itself is Intra.
func (g *Geo) Link(a, b string) (Link, error) {
	i, okA := g.index[a]
	j, okB := g.index[b]
	if !okA || !okB {
		return Link{}, fmt.Errorf("no region %q or %q in the geo data", a, b)
	}
	if i == j {
		return g.Intra, nil
	}
	l, ok := g.links[pair(i, j)]
	if !ok {
		return Link{}, fmt.Errorf("the geo data has no measurement between %s and %s", a, b)
	}
	return l, nil
}

// Scenario returns a named scenario, e.g. "world_wide_8".
func (g *Geo) Scenario(name string) (Scenario, error) {
	s, ok := g.scenarios[name]
	if !ok {
		return Scenario{}, fmt.Errorf("no scenario %q in the geo data", name)
	}
	return s, nil
}
