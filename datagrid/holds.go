package datagrid

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// localLinks reads an inner node from the local store and returns its
// links. Only dag-pb and raw blocks make up UnixFS DAGs.
func (g *Grid) localLinks(ctx context.Context, c cid.Cid) ([]*ipld.Link, error) {
	switch c.Type() {
	case cid.Raw:
		return nil, nil
	case cid.DagProtobuf:
	default:
		return nil, fmt.Errorf("block %s has codec 0x%x; only dag-pb and raw (UnixFS) are supported", c, c.Type())
	}
	blk, err := g.bstore.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	nd, err := merkledag.DecodeProtobuf(blk.RawData())
	if err != nil {
		return nil, fmt.Errorf("block %s is not valid dag-pb: %w", c, err)
	}
	return nd.Links(), nil
}

// Holding is how much of a DAG this node stores.
type Holding struct {
	Root       cid.Cid
	LocalBytes uint64 // bytes of the DAG's blocks stored here
	TotalBytes uint64 // declared DAG size; 0 when the root is not stored
	Complete   bool
	Pinned     bool
}

// Holds reports, for each root, how much of its DAG is stored locally; the
// scheduler uses it to place tasklets near their data. It never touches
// the network.
func (g *Grid) Holds(ctx context.Context, roots []cid.Cid) ([]Holding, error) {
	out := make([]Holding, 0, len(roots))
	for _, c := range roots {
		h, err := g.holding(ctx, c)
		if err != nil {
			return nil, err
		}
		if h.Pinned, err = g.isPinned(ctx, c); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// holding walks the local part of a DAG. Sizes of absent subtrees come
// from their parents' links (Tsize), so TotalBytes is known once the root
// is here. Subtrees are memoised, so repeated blocks cost one visit.
func (g *Grid) holding(ctx context.Context, root cid.Cid) (Holding, error) {
	h := Holding{Root: root}
	size, err := g.bstore.GetSize(ctx, root)
	if ipld.IsNotFound(err) {
		return h, nil
	}
	if err != nil {
		return h, fmt.Errorf("cannot read block %s: %w", root, err)
	}
	h.TotalBytes = uint64(size)
	if links, err := g.localLinks(ctx, root); err == nil {
		for _, l := range links {
			h.TotalBytes += l.Size
		}
	}
	memo := map[string]subtree{}
	st, err := g.localSubtree(ctx, root, memo, 0)
	if err != nil {
		return h, err
	}
	h.LocalBytes, h.Complete = st.local, st.complete
	return h, nil
}

type subtree struct {
	local    uint64
	complete bool
}

func (g *Grid) localSubtree(ctx context.Context, c cid.Cid, memo map[string]subtree, depth int) (subtree, error) {
	if st, ok := memo[string(c.Hash())]; ok {
		return st, nil
	}
	if depth > maxTreeDepth {
		return subtree{}, fmt.Errorf("DAG under %s is deeper than %d levels", c, maxTreeDepth)
	}
	if err := ctx.Err(); err != nil {
		return subtree{}, err
	}
	sz, err := g.bstore.GetSize(ctx, c)
	if ipld.IsNotFound(err) {
		return subtree{}, nil
	}
	if err != nil {
		return subtree{}, fmt.Errorf("cannot read block %s: %w", c, err)
	}
	links, err := g.localLinks(ctx, c)
	if errors.Is(err, ErrCorruptBlock) || ipld.IsNotFound(err) {
		return subtree{}, nil // removed as corrupt, or gone meanwhile
	}
	if err != nil {
		return subtree{}, err
	}
	st := subtree{local: uint64(sz), complete: true}
	for _, l := range links {
		child, err := g.localSubtree(ctx, l.Cid, memo, depth+1)
		if err != nil {
			return subtree{}, err
		}
		st.local += child.local
		st.complete = st.complete && child.complete
	}
	memo[string(c.Hash())] = st
	return st, nil
}
