package datagrid

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	chunk "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// Kubo's `ipfs add --cid-version=1` settings (see doc.go).
const (
	ChunkSize    = 262144 // size-262144 chunker
	LinksPerNode = 174    // helpers.DefaultLinksPerBlock
	maxTreeDepth = 128    // directory nesting accepted on add and get
	// perLeafOverhead bounds the bytes the tree nodes above one leaf cost:
	// a link is ~48 bytes (CID, Tsize, framing) plus a blocksize varint.
	perLeafOverhead = 72
	perEntryCost    = 128 // a directory entry or an empty file, roughly
)

// cidV1 is the CID builder of `ipfs add --cid-version=1`: CIDv1, dag-pb
// for inner nodes (raw leaves get the raw codec from the DAG builder),
// sha2-256.
func cidV1() cid.Builder {
	return cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}
}

// AddResult describes an imported file or directory tree.
type AddResult struct {
	Root     cid.Cid
	Name     string
	Size     uint64      // bytes of file content imported
	DAGBytes uint64      // cumulative DAG size: what a peer fetches
	Files    []AddedFile // every regular file, in path order
	Skipped  []string    // hidden entries left out, as `ipfs add -r` does without --hidden
}

// AddedFile is one file of an import; its CID is announced on its own so a
// worker can find the providers of a single shard.
type AddedFile struct {
	Path string // slash-separated, relative to the root ("" for a single file)
	Cid  cid.Cid
	Size uint64
}

// planNode is a file or directory found on disk before anything is written,
// so unsupported entries and quota are refused up front.
type planNode struct {
	name     string
	path     string
	dir      bool
	size     int64
	children []*planNode
}

// fileKind names, with its article, a file type that data add refuses.
func fileKind(m fs.FileMode) string {
	switch t := m.Type(); {
	case t&fs.ModeSymlink != 0:
		return "a symlink"
	case t&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case t&fs.ModeSocket != 0:
		return "a socket"
	case t&fs.ModeCharDevice != 0:
		return "a character device"
	case t&fs.ModeDevice != 0:
		return "a device"
	}
	return "not a regular file"
}

// kindHint says what to do instead, where there is something to say.
func kindHint(m fs.FileMode) string {
	if m.Type()&fs.ModeSymlink != 0 {
		return " (copy the target in instead of linking it)"
	}
	return ""
}

func planPath(path string, depth int, skipped *[]string) (*planNode, error) {
	if depth > maxTreeDepth {
		return nil, fmt.Errorf("data add: %s is nested more than %d directories deep", path, maxTreeDepth)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("data add: %w", err)
	}
	n := &planNode{name: filepath.Base(path), path: path}
	switch {
	case fi.Mode().IsRegular():
		n.size = fi.Size()
		return n, nil
	case fi.IsDir():
		n.dir = true
	default:
		return nil, fmt.Errorf("data add: %s is %s (%s): only regular files and folders can be added%s", path, fileKind(fi.Mode()), fi.Mode().Type(), kindHint(fi.Mode()))
	}
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("data add: %w", err)
	}
	for _, e := range entries {
		child := filepath.Join(path, e.Name())
		if strings.HasPrefix(e.Name(), ".") {
			*skipped = append(*skipped, child)
			continue
		}
		c, err := planPath(child, depth+1, skipped)
		if err != nil {
			return nil, err
		}
		n.children = append(n.children, c)
	}
	return n, nil
}

// estimate returns the content bytes and an upper bound of the DAG bytes.
func (n *planNode) estimate() (content, dag uint64) {
	if !n.dir {
		leaves := (uint64(n.size) + ChunkSize - 1) / ChunkSize
		return uint64(n.size), uint64(n.size) + perEntryCost + leaves*perLeafOverhead
	}
	dag = perEntryCost
	for _, c := range n.children {
		cc, cd := c.estimate()
		content += cc
		dag += cd + uint64(len(c.name))
	}
	return content, dag
}

// AddPath imports a file or directory tree with Kubo's CIDv1 settings, pins
// it recursively and announces the root, every directory and every file.
// Hidden entries inside a directory are skipped like `ipfs add -r` does;
// symlinks and special files are refused. If the import fails, the blocks
// it wrote that nothing else references are removed again. progress, if not
// nil, gets the content bytes read so far and the total.
func (g *Grid) AddPath(ctx context.Context, path string, progress func(done, total int64)) (AddResult, error) {
	var skipped []string
	plan, err := planPath(filepath.Clean(path), 0, &skipped)
	if err != nil {
		return AddResult{}, err
	}
	content, need := plan.estimate()
	res, err := g.reserve(ctx, "data add", need, cid.Undef)
	if err != nil {
		return AddResult{}, err
	}
	defer res.release()
	out, err := g.runImport(ctx, res, pinSpec{owner: OwnerUser, name: plan.name}, progressOf(progress, int64(content)), func(im *importer) (ipld.Node, error) {
		return im.addPlan(ctx, plan, "")
	})
	out.Skipped = skipped
	return out, err
}

// AddReader imports one stream as a file, pins and announces it. Its size
// is unknown up front, so the quota is checked as blocks are written.
func (g *Grid) AddReader(ctx context.Context, r io.Reader, progress func(done, total int64)) (AddResult, error) {
	res, err := g.reserve(ctx, "data add", 0, cid.Undef)
	if err != nil {
		return AddResult{}, err
	}
	defer res.release()
	return g.runImport(ctx, res, pinSpec{owner: OwnerUser}, progressOf(progress, -1), func(im *importer) (ipld.Node, error) {
		return im.addFile(ctx, r, "")
	})
}

func progressOf(fn func(done, total int64), total int64) func(int64) {
	if fn == nil {
		return func(int64) {}
	}
	return func(done int64) { fn(done, total) }
}

// runImport runs build under the shared GC lock, then pins the root in the
// same metadata batch that clears the in-flight marker.
func (g *Grid) runImport(ctx context.Context, res *reservation, pin pinSpec, progress func(int64), build func(*importer) (ipld.Node, error)) (AddResult, error) {
	wd := newWriteDAG(ctx, g, res)
	out, err := g.importLocked(ctx, wd, pin, progress, build)
	wd.stop()
	if err != nil {
		g.removeOrphans(ctx, wd)
		return AddResult{}, err
	}
	g.ann.enqueue(out.provides...)
	if g.cfg.Metrics != nil {
		g.cfg.Metrics.Added(out.Size)
	}
	return out.AddResult, nil
}

type importOutput struct {
	AddResult
	provides []cid.Cid
}

func (g *Grid) importLocked(ctx context.Context, wd *writeDAG, pin pinSpec, progress func(int64), build func(*importer) (ipld.Node, error)) (importOutput, error) {
	g.gcLock.RLock()
	defer g.gcLock.RUnlock()
	marker, err := g.beginInflight(ctx, "add")
	if err != nil {
		return importOutput{}, err
	}
	wd.marker = marker
	im := &importer{dag: wd, progress: progress}
	root, err := build(im)
	if err == nil {
		err = wd.Commit()
	}
	if err != nil {
		return importOutput{}, err
	}
	dagBytes, err := root.Size()
	if err != nil {
		return importOutput{}, fmt.Errorf("data add: cannot size %s: %w", root.Cid(), err)
	}
	if err := g.commitImport(ctx, root.Cid(), dagBytes, pin, marker); err != nil {
		return importOutput{}, err
	}
	wd.marker = ds.Key{}
	sort.Slice(im.files, func(i, j int) bool { return im.files[i].Path < im.files[j].Path })
	return importOutput{
		AddResult: AddResult{Root: root.Cid(), Name: pin.name, Size: uint64(im.read), DAGBytes: dagBytes, Files: im.files},
		provides:  append([]cid.Cid{root.Cid()}, im.provides...),
	}, nil
}

// commitImport pins root for pin's owner in the batch that clears the
// import's in-flight marker.
func (g *Grid) commitImport(ctx context.Context, root cid.Cid, dagBytes uint64, pin pinSpec, marker ds.Key) error {
	g.pinMu.Lock()
	defer g.pinMu.Unlock()
	b := g.newBatch(ctx)
	if err := g.claimPin(ctx, b, root, dagBytes, pin.owner, pin.name); err != nil {
		return fmt.Errorf("data add: cannot pin %s: %w", root, err)
	}
	b.del(ctx, cacheKey(root))
	b.del(ctx, marker)
	if err := b.commit(ctx); err != nil {
		return fmt.Errorf("data add: cannot pin %s: %w", root, err)
	}
	return nil
}

// importer builds UnixFS DAGs through a buffered writer.
type importer struct {
	dag      *writeDAG
	read     int64
	progress func(int64)
	files    []AddedFile
	provides []cid.Cid // files and directories below the root
}

func (im *importer) addPlan(ctx context.Context, n *planNode, rel string) (ipld.Node, error) {
	if !n.dir {
		f, err := os.Open(n.path)
		if err != nil {
			return nil, fmt.Errorf("data add: %w", err)
		}
		defer f.Close()
		return im.addFile(ctx, f, rel)
	}
	dir, err := uio.NewDirectory(im.dag, uio.WithCidBuilder(cidV1()), uio.WithSizeEstimationMode(uio.SizeEstimationLinks))
	if err != nil {
		return nil, fmt.Errorf("data add: %w", err)
	}
	for _, c := range n.children {
		nd, err := im.addPlan(ctx, c, joinRel(rel, c.name))
		if err != nil {
			return nil, err
		}
		if err := dir.AddChild(ctx, c.name, nd); err != nil {
			return nil, fmt.Errorf("data add: cannot link %s into its directory: %w", c.path, err)
		}
		im.provides = append(im.provides, nd.Cid())
	}
	nd, err := dir.GetNode()
	if err != nil {
		return nil, fmt.Errorf("data add: cannot build directory %s: %w", n.path, err)
	}
	if err := im.dag.Add(ctx, nd); err != nil {
		return nil, fmt.Errorf("data add: cannot store directory %s: %w", n.path, err)
	}
	return nd, nil
}

func joinRel(rel, name string) string {
	if rel == "" {
		return name
	}
	return rel + "/" + name
}

// addFile chunks r into 256 KiB raw leaves under a balanced tree of at most
// 174 links per node.
func (im *importer) addFile(ctx context.Context, r io.Reader, rel string) (ipld.Node, error) {
	pr := &progressReader{ctx: ctx, r: r, im: im}
	params := helpers.DagBuilderParams{
		Dagserv:    im.dag,
		RawLeaves:  true,
		Maxlinks:   LinksPerNode,
		CidBuilder: cidV1(),
	}
	db, err := params.New(chunk.NewSizeSplitter(pr, ChunkSize))
	if err != nil {
		return nil, fmt.Errorf("data add: %w", err)
	}
	start := pr.n
	nd, err := balanced.Layout(db)
	var qe *QuotaError
	if errors.As(err, &qe) {
		return nil, qe // already says "data add: needs ..."
	}
	if err != nil {
		return nil, fmt.Errorf("data add: importing %s: %w", displayRel(rel), err)
	}
	im.files = append(im.files, AddedFile{Path: rel, Cid: nd.Cid(), Size: uint64(pr.n - start)})
	return nd, nil
}

func displayRel(rel string) string {
	if rel == "" {
		return "file"
	}
	return rel
}

// progressReader reports progress and stops the import when ctx ends.
type progressReader struct {
	ctx context.Context
	r   io.Reader
	im  *importer
	n   int64
}

func (p *progressReader) Read(b []byte) (int, error) {
	if err := p.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.im.read += int64(n)
	if n > 0 {
		p.im.progress(p.im.read)
	}
	return n, err
}

// writeDAG buffers the importer's nodes and writes them in batches of
// about 8 MiB on one background goroutine, so hashing the next chunks
// overlaps with flatfs's fsyncs. It writes only blocks the store lacks,
// within the import's reservation, and remembers them so a failed import
// can take them back.
type writeDAG struct {
	g       *Grid
	res     *reservation
	ctx     context.Context
	marker  ds.Key // in-flight record while the import runs
	pending []blocks.Block
	size    int
	ch      chan []blocks.Block
	done    chan struct{}
	inFlush sync.WaitGroup
	mu      sync.Mutex
	err     error
	added   []cid.Cid
}

const (
	writeBatchBytes = 8 << 20
	writeBatchNodes = 128 // flatfs opens one file per block of a batch
)

var _ ipld.DAGService = (*writeDAG)(nil)

func newWriteDAG(ctx context.Context, g *Grid, res *reservation) *writeDAG {
	w := &writeDAG{g: g, res: res, ctx: ctx, ch: make(chan []blocks.Block, 1), done: make(chan struct{})}
	go w.flusher()
	return w
}

func (w *writeDAG) flusher() {
	defer close(w.done)
	for batch := range w.ch {
		if w.failed() == nil {
			if err := w.write(batch); err != nil {
				w.mu.Lock()
				w.err = err
				w.mu.Unlock()
			}
		}
		w.inFlush.Done()
	}
}

func (w *writeDAG) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// write stores the blocks of batch that the store does not hold yet.
func (w *writeDAG) write(batch []blocks.Block) error {
	ctx := w.ctx
	var fresh []blocks.Block
	var n uint64
	for _, b := range batch {
		has, err := w.g.bstore.Has(ctx, b.Cid())
		if err != nil {
			return fmt.Errorf("cannot check block %s: %w", b.Cid(), err)
		}
		if !has {
			fresh = append(fresh, b)
			n += uint64(len(b.RawData()))
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	if err := w.res.take(n); err != nil {
		return err
	}
	w.mu.Lock()
	for _, b := range fresh {
		w.added = append(w.added, b.Cid())
	}
	w.mu.Unlock()
	if err := w.g.bstore.PutMany(ctx, fresh); err != nil {
		return fmt.Errorf("cannot write %d blocks to blocks/: %w", len(fresh), err)
	}
	if w.g.bswap != nil {
		// Peers already waiting for these blocks get them now.
		_ = w.g.bswap.NotifyNewBlocks(ctx, fresh...)
	}
	return nil
}

func (w *writeDAG) Add(ctx context.Context, nd ipld.Node) error {
	return w.AddMany(ctx, []ipld.Node{nd})
}

// AddMany buffers nds; it is called from the importer's goroutine only.
func (w *writeDAG) AddMany(ctx context.Context, nds []ipld.Node) error {
	if err := w.failed(); err != nil {
		return err
	}
	for _, nd := range nds {
		w.pending = append(w.pending, nd)
		w.size += len(nd.RawData())
	}
	if w.size >= writeBatchBytes || len(w.pending) >= writeBatchNodes {
		w.flushAsync()
	}
	return w.failed()
}

func (w *writeDAG) flushAsync() {
	if len(w.pending) == 0 {
		return
	}
	w.inFlush.Add(1)
	w.ch <- w.pending
	w.pending, w.size = nil, 0
}

// Commit writes everything buffered and waits for it.
func (w *writeDAG) Commit() error {
	w.flushAsync()
	w.inFlush.Wait()
	return w.failed()
}

// stop ends the flusher; after it returns no write is in progress.
func (w *writeDAG) stop() {
	close(w.ch)
	<-w.done
}

func (w *writeDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	if err := w.Commit(); err != nil {
		return nil, err
	}
	return w.g.local.Get(ctx, c)
}

func (w *writeDAG) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	if err := w.Commit(); err != nil {
		ch := make(chan *ipld.NodeOption, 1)
		ch <- &ipld.NodeOption{Err: err}
		close(ch)
		return ch
	}
	return w.g.local.GetMany(ctx, cs)
}

// Remove is part of ipld.DAGService; the importer never removes nodes.
func (w *writeDAG) Remove(ctx context.Context, c cid.Cid) error {
	return fmt.Errorf("datagrid: the importer does not remove blocks (asked for %s)", c)
}

// RemoveMany is part of ipld.DAGService; see Remove.
func (w *writeDAG) RemoveMany(ctx context.Context, cs []cid.Cid) error {
	return fmt.Errorf("datagrid: the importer does not remove blocks (asked for %d)", len(cs))
}

// removeOrphans deletes the blocks a failed import wrote unless a pin or
// cache entry references them (another add of the same bytes may have
// finished meanwhile), then clears the in-flight marker.
func (g *Grid) removeOrphans(ctx context.Context, wd *writeDAG) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()
	g.gcLock.Lock()
	defer g.gcLock.Unlock()
	live, err := g.markLive(ctx)
	if err != nil {
		g.log.Warn("failed add left blocks behind; run gridswarm data gc", "blocks", len(wd.added), "err", err)
		return
	}
	removed := 0
	for _, c := range wd.added {
		if _, ok := live[string(c.Hash())]; ok {
			continue
		}
		if err := g.raw.DeleteBlock(ctx, c); err != nil {
			g.log.Warn("cannot remove block of a failed add; run gridswarm data gc", "cid", c.String(), "err", err)
			continue
		}
		removed++
	}
	if wd.marker != (ds.Key{}) {
		_ = g.meta.Delete(ctx, wd.marker)
	}
	g.log.Info("removed blocks of a failed add", "blocks", removed)
}
