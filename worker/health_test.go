package worker

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/tasklet"
)

const mib = 1 << 20

func TestNeedOf(t *testing.T) {
	tests := []struct {
		name     string
		ins      []inputHolding
		want     need
		wantKeep uint64
	}{
		{"nothing known", []inputHolding{{Name: "weights"}, {Name: "shard"}}, need{}, 0},
		{"declared, none held", []inputHolding{{Name: "weights", Declared: mib}, {Name: "shard", Declared: 4 * mib}}, need{Missing: 5 * mib, Output: mib}, 0},
		{"shard cached", []inputHolding{{Name: "weights", Declared: mib}, {Name: "shard", Declared: 4 * mib, Total: 4 * mib, Local: 4 * mib}}, need{Missing: mib, Output: mib}, 4 * mib},
		{"shard pinned, half of weights", []inputHolding{{Name: "weights", Total: mib, Local: mib / 2}, {Name: "shard", Total: 4 * mib, Local: 4 * mib, Pinned: true}}, need{Missing: mib / 2, Output: mib}, mib / 2},
	}
	for _, tt := range tests {
		got, keep := needOf(tt.ins)
		if got != tt.want || keep != tt.wantKeep {
			t.Errorf("%s: needOf = %+v keep %d, want %+v keep %d", tt.name, got, keep, tt.want, tt.wantKeep)
		}
	}
}

func TestQuotaHealth(t *testing.T) {
	tests := []struct {
		name string
		n    need
		s    space
		want string // "" or the reason
	}{
		{"no quota", need{Missing: 1 << 40}, space{}, ""},
		{"fits in free", need{Missing: 3 * mib, Output: mib}, space{Limited: true, Quota: 8 * mib, Free: 4 * mib}, ""},
		{"fits with eviction", need{Missing: 3 * mib, Output: mib}, space{Limited: true, Quota: 8 * mib, Free: mib, Evictable: 3 * mib}, ""},
		{"too big", need{Missing: 4 * mib, Output: mib}, space{Limited: true, Quota: 2 * mib, Free: 2 * mib}, tasklet.ReasonOverQuota},
		{"full, size unknown", need{}, space{Limited: true, Quota: 2 * mib}, tasklet.ReasonOverQuota},
	}
	for _, tt := range tests {
		h := quotaHealth(tt.n, tt.s)
		if h.Reason != tt.want {
			t.Errorf("%s: reason %q, want %q (%s)", tt.name, h.Reason, tt.want, h.Detail)
		}
		if h.Reason != "" && (!strings.Contains(h.Detail, "datagrid.quota_gib") || !strings.Contains(h.String(), "over-quota: ")) {
			t.Errorf("%s: detail %q does not say what to do", tt.name, h.Detail)
		}
	}
	h := quotaHealth(need{Missing: 4 * mib, Output: mib}, space{Limited: true, Quota: 2 * mib, Free: 2 * mib})
	for _, num := range []string{"5.0 MiB", "4.0 MiB", "2.0 MiB"} {
		if !strings.Contains(h.Detail, num) {
			t.Errorf("detail %q lacks %s", h.Detail, num)
		}
	}
}

func TestProbeWritable(t *testing.T) {
	dir := t.TempDir()
	if h := probeWritable(dir); !h.ok() {
		t.Errorf("probe of a writable folder: %s", h)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("probe left %d files behind", len(entries))
	}
	missing := filepath.Join(dir, "gone")
	if h := probeWritable(missing); h.Reason != tasklet.ReasonUnwritable || !strings.Contains(h.Detail, missing) {
		t.Errorf("probe of a missing folder = %+v, want unwritable naming the path", h)
	}
}

func testCID(t *testing.T, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h)
}

func TestOutputLedgerRelease(t *testing.T) {
	a, b := peer.ID("coordinator-a"), peer.ID("coordinator-b")
	x, y, z := testCID(t, "x"), testCID(t, "y"), testCID(t, "z")
	l := newOutputLedger()
	l.add(x, "tasklet/j/1/0", a)
	l.add(y, "tasklet/j/1/1", a)
	l.add(z, "tasklet/k/1/0", b)
	tests := []struct {
		from peer.ID
		outs []cid.Cid
		want []string
	}{
		{b, []cid.Cid{x, y}, nil}, // not b's outputs
		{a, []cid.Cid{x, z, testCID(t, "w"), x}, []string{"tasklet/j/1/0"}}, // only a's, only known, once
		{a, []cid.Cid{x}, nil}, // already released
		{b, []cid.Cid{z}, []string{"tasklet/k/1/0"}},
	}
	for i, tt := range tests {
		if got := l.release(tt.from, tt.outs); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("step %d: release by %s = %v, want %v", i, tt.from, got, tt.want)
		}
	}
	l.forget("tasklet/j/1/1")
	if got := l.release(a, []cid.Cid{y}); got != nil {
		t.Errorf("release after forget = %v, want nothing", got)
	}
	// Two tasklets with the same output, from two coordinators.
	l.add(x, "tasklet/j/2/0", a)
	l.add(x, "tasklet/k/2/0", b)
	if got := l.release(a, []cid.Cid{x}); !reflect.DeepEqual(got, []string{"tasklet/j/2/0"}) {
		t.Errorf("release of a shared output by a = %v, want only a's tasklet", got)
	}
	if got := l.release(b, []cid.Cid{x}); !reflect.DeepEqual(got, []string{"tasklet/k/2/0"}) {
		t.Errorf("release of a shared output by b = %v, want b's tasklet", got)
	}
	if len(l.byCID) != 0 || len(l.byOwner) != 0 {
		t.Errorf("ledger not empty after every release: %v %v", l.byCID, l.byOwner)
	}
}

func TestExpiredOutputs(t *testing.T) {
	now := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	pins := []datagrid.Pin{
		{Owner: "user", Created: now.Add(-48 * time.Hour)},
		{Owner: "tasklet/j/1/0", Created: now.Add(-2 * time.Hour)},
		{Owner: "tasklet/j/1/0", Created: now.Add(-2 * time.Hour)},
		{Owner: "tasklet/j/2/0", Created: now.Add(-time.Hour)},
		{Owner: "tasklet/j/3/0", Created: now.Add(-59 * time.Minute)},
		{Owner: "job/j/round/1/weights", Created: now.Add(-48 * time.Hour)},
	}
	got := expiredOutputs(pins, now, time.Hour)
	if want := []string{"tasklet/j/1/0", "tasklet/j/2/0"}; !reflect.DeepEqual(got, want) {
		t.Errorf("expiredOutputs = %v, want %v", got, want)
	}
}

func TestOutputOwner(t *testing.T) {
	tests := []struct {
		job  string
		want string
	}{
		{"mnist-7", "tasklet/mnist-7/3/2"},
		{"a/b c", "tasklet/a%2Fb%20c/3/2"},
	}
	for _, tt := range tests {
		got := outputOwner(tasklet.Spec{JobID: tt.job, Round: 3, Index: 2})
		if got != tt.want || datagrid.ValidOwner(got) != nil {
			t.Errorf("outputOwner(%q) = %q, want %q (valid)", tt.job, got, tt.want)
		}
	}
}

// fakeGrid records releases and serves fixed pins.
type fakeGrid struct {
	pins     []datagrid.Pin
	released []string
}

func (g *fakeGrid) ReleaseOwner(_ context.Context, owner string) (int, error) {
	g.released = append(g.released, owner)
	kept := g.pins[:0]
	for _, p := range g.pins {
		if p.Owner != owner {
			kept = append(kept, p)
		}
	}
	g.pins = kept
	return 1, nil
}

func (g *fakeGrid) Pins(context.Context) ([]datagrid.Pin, error) { return g.pins, nil }

func TestOutputsLifecycle(t *testing.T) {
	start := time.Date(2026, 1, 2, 12, 0, 0, 0, time.UTC)
	now := start
	g := &fakeGrid{}
	o := &outputs{grid: g, ledger: newOutputLedger(), ttl: time.Hour, now: func() time.Time { return now }, log: discardLog{}}
	coord := peer.ID("coordinator")
	spec := func(i int) tasklet.Spec { return tasklet.Spec{JobID: "j", Round: 1, Index: i} }
	outs := []cid.Cid{testCID(t, "o0"), testCID(t, "o1"), testCID(t, "o2")}
	for i, c := range outs {
		g.pins = append(g.pins, datagrid.Pin{Root: c, Owner: outputOwner(spec(i)), Created: start})
	}
	o.delivered(spec(0), coord, tasklet.Output{CID: outs[0].String()})
	o.delivered(spec(1), coord, tasklet.Output{CID: outs[1].String()})
	o.discard(spec(2), tasklet.Output{CID: outs[2].String()}) // cancelled: dropped at once

	if n := o.release(context.Background(), peer.ID("stranger"), outs); n != 0 {
		t.Errorf("a stranger released %d outputs", n)
	}
	if n := o.release(context.Background(), coord, outs[:1]); n != 1 {
		t.Errorf("the coordinator released %d outputs, want 1", n)
	}
	now = start.Add(59 * time.Minute)
	if n, err := o.sweep(context.Background()); n != 0 || err != nil {
		t.Errorf("sweep before the TTL released %d (%v)", n, err)
	}
	now = start.Add(time.Hour)
	if n, err := o.sweep(context.Background()); n != 1 || err != nil {
		t.Errorf("sweep at the TTL released %d (%v), want the unreleased output", n, err)
	}
	want := []string{"tasklet/j/1/2", "tasklet/j/1/0", "tasklet/j/1/1"}
	if !reflect.DeepEqual(g.released, want) || len(g.pins) != 0 {
		t.Errorf("released %v leaving %d pins, want %v and none", g.released, len(g.pins), want)
	}
}

type discardLog struct{}

func (discardLog) Info(string, ...any) {}
func (discardLog) Warn(string, ...any) {}
