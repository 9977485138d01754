package datagrid

import (
	"bytes"
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
	if size := int64(r.Size()); size > max {
		return nil, fmt.Errorf("file %s is %d bytes, over the %d byte limit for this use", c, size, max)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(r, max+1)); err != nil {
		return nil, fmt.Errorf("cannot read file %s: %w", c, err)
	}
	if int64(buf.Len()) > max {
		return nil, fmt.Errorf("file %s is over the %d byte limit for this use", c, max)
	}
	return buf.Bytes(), nil
}
