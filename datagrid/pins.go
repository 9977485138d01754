package datagrid

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Owners of pins. A pin belongs to one owner, a slash-separated path that
// says who needs the data; ReleaseOwner drops every pin under a prefix.
// See docs/architecture.md ("Data lifecycle") for the conventions:
//
//	user                              data add, data pin
//	job/<jobID>/round/<r>/weights     a round's weights (coordinator)
//	job/<jobID>/round/<r>/momentum    a round's outer-optimizer state
//	job/<jobID>/final                 the final model and provenance
//	tasklet/<jobID>/<round>/<index>   a worker's output
const (
	OwnerUser     = "user"
	maxOwnerBytes = 512
	maxNameBytes  = 1024
)

// pinRecord is what meta/ stores under /pins/<cid>: the DAG is pinned as
// long as one owner is left. Records written before owners existed have
// Name and no Owners; they read as owned by "user".
type pinRecord struct {
	Bytes   uint64     `json:"bytes"` // cumulative DAG size
	Created time.Time  `json:"created"`
	Name    string     `json:"name,omitempty"` // legacy: before owners
	Owners  []pinOwner `json:"owners,omitempty"`
}

// pinOwner is one owner's claim on a pinned DAG.
type pinOwner struct {
	Owner   string    `json:"owner"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
}

// migrate gives a legacy record its implicit "user" owner. It reports
// whether the record changed.
func (r *pinRecord) migrate(c cid.Cid) bool {
	if len(r.Owners) > 0 {
		return false
	}
	name := r.Name
	if name == "" {
		name = c.String()
	}
	r.Owners = []pinOwner{{Owner: OwnerUser, Name: name, Created: r.Created}}
	r.Name = ""
	return true
}

// claim adds or renames owner's claim; it reports whether the record changed.
func (r *pinRecord) claim(owner, name string, now time.Time) bool {
	for i := range r.Owners {
		if r.Owners[i].Owner == owner {
			if r.Owners[i].Name == name {
				return false
			}
			r.Owners[i].Name = name
			return true
		}
	}
	r.Owners = append(r.Owners, pinOwner{Owner: owner, Name: name, Created: now})
	return true
}

// drop removes the claims of owners that match; it returns how many went.
func (r *pinRecord) drop(match func(owner string) bool) int {
	kept := r.Owners[:0]
	n := 0
	for _, o := range r.Owners {
		if match(o.Owner) {
			n++
			continue
		}
		kept = append(kept, o)
	}
	r.Owners = kept
	return n
}

func (r *pinRecord) ownerNames() []string {
	out := make([]string, len(r.Owners))
	for i, o := range r.Owners {
		out[i] = o.Owner
	}
	return out
}

// ValidOwner checks an owner path: 1-512 bytes of printable characters,
// slash-separated segments that are neither empty nor "." or "..".
func ValidOwner(owner string) error {
	if owner == "" || len(owner) > maxOwnerBytes {
		return fmt.Errorf("pin owner %q must be 1-%d bytes", owner, maxOwnerBytes)
	}
	for _, seg := range strings.Split(owner, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("pin owner %q has an empty, \".\" or \"..\" segment; write it like job/<id>/round/<r>/weights", owner)
		}
	}
	for _, r := range owner {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return fmt.Errorf("pin owner %q contains a space or control character", owner)
		}
	}
	return nil
}

func validPinName(name string) error {
	if len(name) > maxNameBytes {
		return fmt.Errorf("pin name of %d bytes is longer than %d", len(name), maxNameBytes)
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return fmt.Errorf("pin name %q contains a control character", name)
		}
	}
	return nil
}

// ownedBy matches owner itself and everything below it.
func ownedBy(prefix string) func(string) bool {
	return func(owner string) bool {
		return owner == prefix || strings.HasPrefix(owner, prefix+"/")
	}
}

// pinSpec says for whom and under which name a DAG is pinned.
type pinSpec struct {
	owner string
	name  string // "" means the root CID
}

// pinEntry is a stored pin record with its root; legacy marks a record
// from before owners, given its "user" owner on reading.
type pinEntry struct {
	Root   cid.Cid
	rec    pinRecord
	legacy bool
}

func (g *Grid) listPinRecords(ctx context.Context) ([]pinEntry, error) {
	var out []pinEntry
	err := g.scan(ctx, pinPrefix, func(key string, value []byte) error {
		var r pinRecord
		if err := decodeRecord(key, value, &r); err != nil {
			return err
		}
		c, err := keyCid(key)
		if err != nil {
			return err
		}
		legacy := r.migrate(c)
		out = append(out, pinEntry{Root: c, rec: r, legacy: legacy})
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool { return out[i].rec.Created.Before(out[j].rec.Created) })
	return out, err
}

// listPins returns one Pin per (root, owner), oldest root first.
func (g *Grid) listPins(ctx context.Context) ([]Pin, error) {
	recs, err := g.listPinRecords(ctx)
	var out []Pin
	for _, e := range recs {
		for _, o := range e.rec.Owners {
			out = append(out, Pin{Root: e.Root, Owner: o.Owner, Name: o.Name, Bytes: e.rec.Bytes, Created: o.Created})
		}
	}
	return out, err
}

// readPin returns the record of c, if any, migrated.
func (g *Grid) readPin(ctx context.Context, c cid.Cid) (pinRecord, bool, error) {
	data, err := g.meta.Get(ctx, pinKey(c))
	if err != nil {
		if errors.Is(err, ds.ErrNotFound) {
			return pinRecord{}, false, nil
		}
		return pinRecord{}, false, fmt.Errorf("cannot read pin record of %s: %w", c, err)
	}
	var r pinRecord
	if err := decodeRecord(pinKey(c).String(), data, &r); err != nil {
		return pinRecord{}, false, err
	}
	r.migrate(c)
	return r, true, nil
}

// claimPin adds owner's claim on c (bytes is the DAG size) to batch b.
// The caller holds g.pinMu until b is committed.
func (g *Grid) claimPin(ctx context.Context, b *metaBatch, c cid.Cid, bytes uint64, owner, name string) error {
	rec, ok, err := g.readPin(ctx, c)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if !ok {
		rec = pinRecord{Bytes: bytes, Created: now}
	}
	if name == "" {
		name = c.String()
	}
	if rec.claim(owner, name, now) || !ok {
		b.put(ctx, pinKey(c), rec)
	}
	return nil
}

// migratePins rewrites records from before owners with their "user" owner.
func (g *Grid) migratePins(ctx context.Context) error {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	recs, err := g.listPinRecords(ctx)
	var legacy []pinEntry
	for _, e := range recs {
		if e.legacy {
			legacy = append(legacy, e)
		}
	}
	if err != nil || len(legacy) == 0 {
		return err
	}
	b := g.newBatch(ctx)
	for _, e := range legacy {
		b.put(ctx, pinKey(e.Root), e.rec)
	}
	if err := b.commit(ctx); err != nil {
		return fmt.Errorf("cannot give %d old pins their owner: %w", len(legacy), err)
	}
	g.log.Info("gave old pins the owner user", "pins", len(legacy))
	return nil
}

// AddBytesOwned imports b as one file (Kubo's CIDv1 settings, like data
// add), pins it for owner under name and announces it. Executors and the
// coordinator store outputs and weights through it.
func (g *Grid) AddBytesOwned(ctx context.Context, name string, b []byte, owner string) (cid.Cid, error) {
	if err := ValidOwner(owner); err != nil {
		return cid.Undef, fmt.Errorf("data add %s: %w", name, err)
	}
	if err := validPinName(name); err != nil {
		return cid.Undef, fmt.Errorf("data add: %w", err)
	}
	n := uint64(len(b))
	need := n + perEntryCost + (n+ChunkSize-1)/ChunkSize*perLeafOverhead
	res, err := g.reserve(ctx, "data add", need, cid.Undef)
	if err != nil {
		return cid.Undef, err
	}
	defer res.release()
	out, err := g.runImport(ctx, res, pinSpec{owner: owner, name: name}, progressOf(nil, int64(n)), func(im *importer) (ipld.Node, error) {
		return im.addFile(ctx, io.Reader(bytes.NewReader(b)), "")
	})
	if err != nil {
		return cid.Undef, err
	}
	return out.Root, nil
}

// PinOwned fetches every block of c that is not local yet (within the
// quota, evicting cache or collecting released data if needed) and pins it
// for owner under name. Pins are per (CID, owner): pinning a CID another
// owner holds adds a claim, and the DAG stays until every claim is gone.
func (g *Grid) PinOwned(ctx context.Context, c cid.Cid, owner, name string, hints ...peer.AddrInfo) error {
	return g.PinWith(ctx, c, PinOptions{Owner: owner, Name: name, Hints: hints})
}

// PinOptions tune PinWith.
type PinOptions struct {
	Owner string // required: see ValidOwner
	Name  string // "" names the pin by its CID
	// Hints are providers to connect to and ask first.
	Hints []peer.AddrInfo
	// Wait bounds the waits on peers; the context bounds the whole pin.
	Wait Wait
}

// PinWith is PinOwned with limits on how long it waits for peers.
func (g *Grid) PinWith(ctx context.Context, c cid.Cid, o PinOptions) error {
	if err := ValidOwner(o.Owner); err != nil {
		return fmt.Errorf("data pin %s: %w", c, err)
	}
	if err := validPinName(o.Name); err != nil {
		return fmt.Errorf("data pin %s: %w", c, err)
	}
	_, err := g.ensureLocal(ctx, fetchPlan{op: "data pin", root: c, pin: &pinSpec{owner: o.Owner, name: o.Name}, hints: o.Hints, wait: o.Wait}, nil)
	return err
}

// ReleaseOwner removes every pin whose owner is ownerPrefix or lies below
// it (ownerPrefix + "/…") and returns how many (CID, owner) pins went. A
// DAG another owner still pins stays; the blocks of the rest that no pin
// or cache entry reaches are deleted in the background soon after (and at
// the latest when the quota needs room or at the next GC).
func (g *Grid) ReleaseOwner(ctx context.Context, ownerPrefix string) (int, error) {
	if err := ValidOwner(ownerPrefix); err != nil {
		return 0, fmt.Errorf("release pins: %w", err)
	}
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	recs, err := g.listPinRecords(ctx)
	if err != nil {
		return 0, fmt.Errorf("release pins of %s: %w", ownerPrefix, err)
	}
	match := ownedBy(ownerPrefix)
	b := g.newBatch(ctx)
	n := 0
	var gone []cid.Cid
	for _, e := range recs {
		dropped := e.rec.drop(match)
		if dropped == 0 {
			continue
		}
		n += dropped
		if len(e.rec.Owners) == 0 {
			b.del(ctx, pinKey(e.Root))
			gone = append(gone, e.Root)
		} else {
			b.put(ctx, pinKey(e.Root), e.rec)
		}
	}
	if n == 0 {
		return 0, nil
	}
	if err := b.commit(ctx); err != nil {
		return 0, fmt.Errorf("release pins of %s: %w", ownerPrefix, err)
	}
	g.noteReleased(gone)
	g.log.Debug("released pins", "owner", ownerPrefix, "pins", n)
	return n, nil
}

// UnpinOwned removes owner's pin of c. It returns an error matching
// ErrNotPinned when owner does not pin c (naming the owners that do).
func (g *Grid) UnpinOwned(ctx context.Context, c cid.Cid, owner string) error {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	rec, ok, err := g.readPin(ctx, c)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("data unpin: %s: %w", c, ErrNotPinned)
	}
	if rec.drop(func(o string) bool { return o == owner }) == 0 {
		return fmt.Errorf("data unpin: %s: %w by %s; its owners are %s", c, ErrNotPinned, owner, strings.Join(rec.ownerNames(), ", "))
	}
	b := g.newBatch(ctx)
	if len(rec.Owners) == 0 {
		b.del(ctx, pinKey(c))
	} else {
		b.put(ctx, pinKey(c), rec)
	}
	if err := b.commit(ctx); err != nil {
		return fmt.Errorf("data unpin %s: %w", c, err)
	}
	g.garbage.Store(true)
	return nil
}
