package worker

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/tasklet"
)

// DefaultOutputTTL is how long a worker keeps a tasklet output that its
// coordinator never released.
const DefaultOutputTTL = time.Hour

// outputOwnerRoot is the pin owner under which every tasklet output lies.
const outputOwnerRoot = "tasklet"

// outputOwner is the pin owner of spec's output:
// tasklet/<jobID>/<round>/<index>, the job ID escaped into one segment.
func outputOwner(spec tasklet.Spec) string {
	o := fmt.Sprintf("%s/%s/%d/%d", outputOwnerRoot, url.PathEscape(spec.JobID), spec.Round, spec.Index)
	if datagrid.ValidOwner(o) != nil {
		if c, err := spec.CID(); err == nil {
			return outputOwnerRoot + "/" + c.String()
		}
	}
	return o
}

// outputLedger remembers, for each output delivered with a receipt, its
// pin owner and the coordinator that may release it. It is memory only:
// after a restart the TTL sweep, which reads the pins' own creation times,
// lets go of what nobody released.
type outputLedger struct {
	mu      sync.Mutex
	byCID   map[string][]delivered // two tasklets may give the same output
	byOwner map[string]string      // owner → output CID
}

type delivered struct {
	owner   string
	offerer peer.ID
}

func newOutputLedger() *outputLedger {
	return &outputLedger{byCID: map[string][]delivered{}, byOwner: map[string]string{}}
}

// add records that out (pinned for owner) went to offerer.
func (l *outputLedger) add(out cid.Cid, owner string, offerer peer.ID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetLocked(owner)
	l.byCID[out.KeyString()] = append(l.byCID[out.KeyString()], delivered{owner: owner, offerer: offerer})
	l.byOwner[owner] = out.KeyString()
}

// release returns the owners of the outputs among outs that were
// delivered to from, and forgets them. Others are left alone: only the
// coordinator that asked for an output may let it go.
func (l *outputLedger) release(from peer.ID, outs []cid.Cid) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var owners []string
	for _, c := range outs {
		var mine []string
		for _, d := range l.byCID[c.KeyString()] {
			if d.offerer == from {
				mine = append(mine, d.owner)
			}
		}
		for _, o := range mine {
			l.forgetLocked(o)
		}
		owners = append(owners, mine...)
	}
	return owners
}

// forget drops owner's entry (its pin went another way).
func (l *outputLedger) forget(owner string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetLocked(owner)
}

func (l *outputLedger) forgetLocked(owner string) {
	c, ok := l.byOwner[owner]
	if !ok {
		return
	}
	delete(l.byOwner, owner)
	ds := l.byCID[c]
	for i, d := range ds {
		if d.owner == owner {
			ds = append(ds[:i], ds[i+1:]...)
			break
		}
	}
	if len(ds) == 0 {
		delete(l.byCID, c)
	} else {
		l.byCID[c] = ds
	}
}

// expiredOutputs returns the owners of tasklet-output pins created more
// than ttl before now, each once.
func expiredOutputs(pins []datagrid.Pin, now time.Time, ttl time.Duration) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range pins {
		if !strings.HasPrefix(p.Owner, outputOwnerRoot+"/") || seen[p.Owner] {
			continue
		}
		if now.Sub(p.Created) >= ttl {
			seen[p.Owner] = true
			out = append(out, p.Owner)
		}
	}
	return out
}

// outputGrid is what the worker needs of the data grid to own outputs.
type outputGrid interface {
	ReleaseOwner(ctx context.Context, ownerPrefix string) (int, error)
	Pins(ctx context.Context) ([]datagrid.Pin, error)
}

var _ outputGrid = (*datagrid.Grid)(nil)

// outputs keeps the worker's delivered outputs until they are released or
// expire.
type outputs struct {
	grid   outputGrid
	ledger *outputLedger
	ttl    time.Duration
	now    func() time.Time
	log    interface {
		Info(msg string, args ...any)
		Warn(msg string, args ...any)
	}
}

// delivered is tasklet.ServiceConfig.Delivered.
func (o *outputs) delivered(spec tasklet.Spec, from peer.ID, out tasklet.Output) {
	c, err := cid.Decode(out.CID)
	if err != nil {
		return
	}
	o.ledger.add(c, outputOwner(spec), from)
}

// discard is tasklet.ServiceConfig.Discard: a run that delivered nothing
// leaves nothing pinned.
func (o *outputs) discard(spec tasklet.Spec, _ tasklet.Output) {
	owner := outputOwner(spec)
	o.ledger.forget(owner)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := o.grid.ReleaseOwner(ctx, owner); err != nil {
		o.log.Warn("cannot drop the output of an abandoned tasklet", "owner", owner, "err", err)
	}
}

// release is tasklet.ServiceConfig.OnRelease.
func (o *outputs) release(ctx context.Context, from peer.ID, outs []cid.Cid) int {
	n := 0
	for _, owner := range o.ledger.release(from, outs) {
		if _, err := o.grid.ReleaseOwner(ctx, owner); err != nil {
			o.log.Warn("cannot release a tasklet output", "owner", owner, "err", err)
			continue
		}
		n++
	}
	return n
}

// sweep releases outputs older than the TTL.
func (o *outputs) sweep(ctx context.Context) (int, error) {
	pins, err := o.grid.Pins(ctx)
	if err != nil {
		return 0, fmt.Errorf("cannot list pins for the output sweep: %w", err)
	}
	n := 0
	for _, owner := range expiredOutputs(pins, o.now(), o.ttl) {
		if _, err := o.grid.ReleaseOwner(ctx, owner); err != nil {
			return n, fmt.Errorf("cannot release expired output %s: %w", owner, err)
		}
		o.ledger.forget(owner)
		n++
	}
	if n > 0 {
		o.log.Info("released tasklet outputs nobody fetched within the TTL", "outputs", n, "ttl", o.ttl)
	}
	return n, nil
}
