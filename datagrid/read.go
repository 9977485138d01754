package datagrid

import (
	"context"
	"fmt"
	"io"

	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ReadFile makes the file c local as a cache entry (fetching what is
// missing, hinted providers first) and returns its bytes, refusing files
// over max bytes. Executors read their inputs through it.
func (g *Grid) ReadFile(ctx context.Context, c cid.Cid, max int64, hints ...peer.AddrInfo) ([]byte, error) {
	if _, err := g.Fetch(ctx, c, hints...); err != nil {
		return nil, err
	}
	nd, err := strictDAG{g.local}.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", c, err)
	}
	if kind, err := nodeKind(nd); err != nil || kind != EntryFile {
		return nil, fmt.Errorf("%s is not a file", c)
	}
	r, err := uio.NewDagReader(ctx, nd, strictDAG{g.local})
	if err != nil {
		return nil, fmt.Errorf("cannot read file %s: %w", c, err)
	}
	size := int64(r.Size())
	if size > max {
		return nil, fmt.Errorf("file %s is %d bytes, over the %d byte limit for this use", c, size, max)
	}
	// Read into a buffer of the size the root declares: growing one as it
	// filled cost more CPU than the read itself (page clears and copies of
	// a 4 MB shard at every tasklet). A DAG whose leaves hold more or less
	// than its root declares is refused.
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("cannot read file %s (%d bytes by its root): %w", c, size, err)
	}
	var extra [1]byte
	if n, _ := r.Read(extra[:]); n > 0 {
		return nil, fmt.Errorf("cannot read file %s: its blocks hold more than the %d bytes its root declares", c, size)
	}
	return b, nil
}
