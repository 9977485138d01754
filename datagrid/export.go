package datagrid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ipfs/boxo/ipld/merkledag"
	unixfs "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/boxo/verifcid"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNotDirectory is returned by Ls for a CID that is a file.
var ErrNotDirectory = errors.New("not a directory")

// GetOptions tunes Get.
type GetOptions struct {
	// Progress gets DAG bytes held so far and the DAG's declared size
	// (-1 until the root block is here). It runs on the fetching
	// goroutine and must not call back into the Grid.
	Progress func(done, total int64)
	// Hints are providers to connect to and ask first (the coordinator
	// hints the peers it knows hold the data).
	Hints []peer.AddrInfo
	// Wait bounds the waits on peers; the context bounds the whole get.
	Wait Wait
}

// Get writes the file or directory tree c to outPath. It first makes the
// DAG local (a cache entry, within the quota), then writes to a temporary
// name beside outPath and renames it at the end, so a failed Get leaves
// nothing under outPath. outPath must not exist.
func (g *Grid) Get(ctx context.Context, c cid.Cid, outPath string, opts GetOptions) error {
	outPath = filepath.Clean(outPath)
	if _, err := os.Lstat(outPath); err == nil {
		return fmt.Errorf("data get: %s already exists; choose another output path or remove it", outPath)
	}
	parent := filepath.Dir(outPath)
	if fi, err := os.Stat(parent); err != nil || !fi.IsDir() {
		return fmt.Errorf("data get: the folder %s for the output does not exist", parent)
	}
	plan := fetchPlan{op: "data get", root: c, hints: opts.Hints, progress: opts.Progress, wait: opts.Wait}
	_, err := g.ensureLocal(ctx, plan, func(ctx context.Context) error {
		return g.exportAtomic(ctx, c, outPath)
	})
	return err
}

func (g *Grid) exportAtomic(ctx context.Context, c cid.Cid, outPath string) error {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(outPath), "."+filepath.Base(outPath)+".gridswarm-"+hex.EncodeToString(rnd[:]))
	ex := exporter{dag: strictDAG{g.local}}
	if err := ex.export(ctx, c, tmp, 0); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("data get %s: %w", c, err)
	}
	if _, err := os.Lstat(outPath); err == nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("data get: %s appeared while fetching; the data was not written", outPath)
	}
	if err := os.Rename(tmp, outPath); err != nil {
		_ = os.RemoveAll(tmp)
		return fmt.Errorf("data get: cannot move the result into %s: %w", outPath, err)
	}
	return syncDir(filepath.Dir(outPath))
}

type exporter struct {
	dag ipld.DAGService
}

func (e exporter) export(ctx context.Context, c cid.Cid, path string, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("directories nest more than %d deep; refusing to write them", maxTreeDepth)
	}
	nd, err := e.dag.Get(ctx, c)
	if err != nil {
		return err
	}
	kind, err := nodeKind(nd)
	if err != nil {
		return err
	}
	switch kind {
	case EntryFile:
		return e.writeFile(ctx, nd, path)
	case EntryDir:
		return e.writeDir(ctx, nd, path, depth)
	default:
		return fmt.Errorf("%s is a UnixFS %s; only files and directories can be written out", c, kind)
	}
}

func (e exporter) writeFile(ctx context.Context, nd ipld.Node, path string) error {
	r, err := uio.NewDagReader(ctx, nd, e.dag)
	if err != nil {
		return fmt.Errorf("cannot read file %s: %w", nd.Cid(), err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot sync %s: %w", path, err)
	}
	return f.Close()
}

func (e exporter) writeDir(ctx context.Context, nd ipld.Node, path string, depth int) error {
	dir, err := uio.NewDirectoryFromNode(e.dag, nd)
	if err != nil {
		return fmt.Errorf("cannot read directory %s: %w", nd.Cid(), err)
	}
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	err = dir.ForEachLink(ctx, func(l *ipld.Link) error {
		if err := validName(l.Name); err != nil {
			return fmt.Errorf("directory %s: %w", nd.Cid(), err)
		}
		return e.export(ctx, l.Cid, filepath.Join(path, l.Name), depth+1)
	})
	if err != nil {
		return err
	}
	return syncDir(path)
}

// validName rejects entry names that could escape the output folder.
func validName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("entry name %q is not allowed", name)
	case len(name) > 255:
		return fmt.Errorf("entry name of %d bytes is longer than 255", len(name))
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("entry name %q contains a path separator or NUL", name)
	}
	return nil
}

func syncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync folder %s: %w", path, err)
	}
	return nil
}

// EntryType is the kind of a directory entry.
type EntryType string

const (
	EntryFile    EntryType = "file"
	EntryDir     EntryType = "dir"
	EntrySymlink EntryType = "symlink"
	EntryOther   EntryType = "other"
)

// Entry is one line of a directory listing.
type Entry struct {
	Name string
	Cid  cid.Cid
	Size uint64 // file size for files, cumulative DAG size for directories
	Type EntryType
}

func nodeKind(nd ipld.Node) (EntryType, error) {
	if nd.Cid().Type() == cid.Raw {
		return EntryFile, nil
	}
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return EntryOther, fmt.Errorf("block %s is not UnixFS (codec 0x%x)", nd.Cid(), nd.Cid().Type())
	}
	fsn, err := unixfs.FSNodeFromBytes(pn.Data())
	if err != nil {
		return EntryOther, fmt.Errorf("block %s is not UnixFS: %w", nd.Cid(), err)
	}
	switch fsn.Type() {
	case unixfs.TFile, unixfs.TRaw:
		return EntryFile, nil
	case unixfs.TDirectory, unixfs.THAMTShard:
		return EntryDir, nil
	case unixfs.TSymlink:
		return EntrySymlink, nil
	}
	return EntryOther, nil
}

func entrySize(nd ipld.Node, kind EntryType, link *ipld.Link) uint64 {
	if kind == EntryFile {
		if pn, ok := nd.(*merkledag.ProtoNode); ok {
			if fsn, err := unixfs.FSNodeFromBytes(pn.Data()); err == nil {
				return fsn.FileSize()
			}
		}
		return uint64(len(nd.RawData()))
	}
	return link.Size
}

// Ls lists the directory c with the default Wait; see LsWait.
func (g *Grid) Ls(ctx context.Context, c cid.Cid) ([]Entry, error) {
	return g.LsWait(ctx, c, Wait{})
}

// LsWait lists the directory c, fetching its directory node(s) and the
// first block of each entry from peers if needed (those blocks are not
// pinned and go at the next GC). It gives up as w and ctx say, with a
// WaitError when no provider answered.
func (g *Grid) LsWait(ctx context.Context, c cid.Cid, w Wait) ([]Entry, error) {
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, c); err != nil {
		return nil, fmt.Errorf("data ls: %s is not an acceptable CID: %w", c, err)
	}
	if err := w.Check(); err != nil {
		return nil, fmt.Errorf("data ls %s: %w", c, err)
	}
	// Held shared so no GC sweeps the fetched blocks before they are read.
	g.gcLock.RLock()
	defer g.gcLock.RUnlock()
	f := g.newFetcher(ctx, fetchPlan{op: "data ls", root: c, wait: w})
	defer f.close()
	base := &fetchingDAG{DAGService: g.local, f: f}
	nd, err := base.Get(ctx, c)
	if err != nil {
		return nil, wrapLs(c, err)
	}
	if kind, err := nodeKind(nd); err != nil || kind != EntryDir {
		return nil, fmt.Errorf("data ls %s: %w", c, ErrNotDirectory)
	}
	dir, err := uio.NewDirectoryFromNode(base, nd)
	if err != nil {
		return nil, wrapLs(c, err)
	}
	links, err := dir.Links(ctx)
	if err != nil {
		return nil, wrapLs(c, err)
	}
	keys := make([]cid.Cid, len(links))
	for i, l := range links {
		keys[i] = l.Cid
	}
	nodes := make(map[string]ipld.Node, len(keys))
	for opt := range base.GetMany(ctx, keys) {
		if opt.Err != nil {
			return nil, wrapLs(c, opt.Err)
		}
		nodes[opt.Node.Cid().KeyString()] = opt.Node
	}
	out := make([]Entry, 0, len(links))
	for _, l := range links {
		child, ok := nodes[l.Cid.KeyString()]
		if !ok {
			return nil, fmt.Errorf("data ls %s: entry %q (%s) could not be fetched: %w", c, l.Name, l.Cid, ctx.Err())
		}
		kind, _ := nodeKind(child)
		out = append(out, Entry{Name: l.Name, Cid: l.Cid, Size: entrySize(child, kind, l), Type: kind})
	}
	return out, nil
}

// wrapLs adds the operation to err unless it already says it (a
// WaitError or a fetch error names "data ls" itself).
func wrapLs(c cid.Cid, err error) error {
	var we *WaitError
	if errors.As(err, &we) || strings.HasPrefix(err.Error(), "data ls") {
		return err
	}
	return fmt.Errorf("data ls %s: %w", c, err)
}

// fetchingDAG reads nodes from the local store, fetching the missing ones
// through a fetcher first (with its provider search and stall limits). It
// is safe for the concurrent reads a HAMT directory walk makes.
type fetchingDAG struct {
	ipld.DAGService // the local, offline DAG service
	mu              sync.Mutex
	f               *fetcher
}

func (d *fetchingDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	d.mu.Lock()
	err := d.f.fetchLevel(ctx, []cid.Cid{c}, nil)
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return strictDAG{d.DAGService}.Get(ctx, c)
}

func (d *fetchingDAG) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	defer close(out)
	d.mu.Lock()
	err := d.f.fetchLevel(ctx, cs, nil)
	d.mu.Unlock()
	if err != nil {
		out <- &ipld.NodeOption{Err: err}
		return out
	}
	for _, c := range cs {
		nd, err := strictDAG{d.DAGService}.Get(ctx, c)
		out <- &ipld.NodeOption{Node: nd, Err: err}
		if err != nil {
			break
		}
	}
	return out
}

// strictDAG reads GetMany one block at a time through Get, so a block that
// fails verification reports its own error instead of merkledag's generic
// "not found".
type strictDAG struct {
	ipld.DAGService
}

func (s strictDAG) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	go func() {
		defer close(out)
		for _, c := range cs {
			nd, err := s.Get(ctx, c)
			select {
			case out <- &ipld.NodeOption{Node: nd, Err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}
