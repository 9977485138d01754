package scheduler

import (
	"context"

	"github.com/ipfs/go-cid"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/tasklet"
)

// DirEntry is one entry of a folder in the data grid.
type DirEntry struct {
	CID  cid.Cid
	Size uint64
}

// Grid is what the coordinator needs of the data grid.
type Grid interface {
	// ReadFile reads a file, asking the given peers first when it is not local.
	ReadFile(ctx context.Context, c cid.Cid, max int64, from ...string) ([]byte, error)
	// AddBytesOwned stores b as one file pinned for owner ("job/<id>/…").
	AddBytesOwned(ctx context.Context, name string, b []byte, owner string) (cid.Cid, error)
	// ReleaseOwner unpins everything owned by ownerPrefix or below it.
	ReleaseOwner(ctx context.Context, ownerPrefix string) (int, error)
	// ListDir lists a folder, fetching it if it is not local.
	ListDir(ctx context.Context, c cid.Cid) (map[string]DirEntry, error)
	// Holders returns the peers that provide c (locality for placement).
	// It must return within a few seconds whatever ctx allows: concurrent
	// callers for one c wait on one lookup.
	Holders(ctx context.Context, c cid.Cid) []string
	// DropCached forgets the cached copies of roots (outputs the coordinator
	// fetched and aggregated); pins are untouched.
	DropCached(ctx context.Context, roots ...cid.Cid) error
}

// Swarm is what the coordinator needs of the network.
type Swarm interface {
	// Self is this node's peer ID; it coordinates and does not place on itself.
	Self() string
	// Workers is a snapshot of the workers this node knows, without Holds.
	// A peer's Throughput is its advertised benchmark, timed on a model of
	// Options.BenchmarkParams parameters.
	Workers() []placement.Peer
	// CapsAsked waits until every connected peer was asked for its
	// capability record, so that Workers covers them all; it returns ctx's
	// error if ctx ends first.
	CapsAsked(ctx context.Context) error
	// Offer sends a tasklet to a worker and returns its checked receipt.
	Offer(ctx context.Context, peer string, spec tasklet.Spec, progress func(done, total int)) (receipt.Receipt, error)
	// Release tells a worker the coordinator holds these outputs of its
	// tasklets, so it may unpin them.
	Release(ctx context.Context, peer string, outputs []string) error
}

// OfferRequest is what an offer carries beside the spec.
type OfferRequest struct {
	// Price is what one run pays, in base units of the settlement token
	// ("" unpaid); the worker signs it in its receipt.
	Price string
	// Prefetch is data the worker should fetch while it runs the tasklet
	// (at most tasklet.MaxPrefetch CIDs): the next round's shard.
	Prefetch []string
}

// prefetchSwarm offers a tasklet with an OfferRequest and returns, beside
// the receipt, the Prefetch CIDs the worker held by then, whole or
// arriving.
type prefetchSwarm interface {
	OfferWith(ctx context.Context, peer string, spec tasklet.Spec, req OfferRequest) (receipt.Receipt, []string, error)
}

// pricedSwarm offers paid tasklets: price is what one run pays, in base
// units of the settlement token, and the worker signs it in its receipt.
type pricedSwarm interface {
	OfferPriced(ctx context.Context, peer string, spec tasklet.Spec, price string, progress func(done, total int)) (receipt.Receipt, error)
}
