// Package datagrid is gridswarm's data grid: a content-addressed block
// store with bitswap on the node's libp2p host, provider records in the
// node's Kademlia DHT, UnixFS import and export that give the same CIDs as
// Kubo, recursive pins, an LRU cache for tasklet inputs, and a storage
// quota.
//
//	AddPath/AddReader                         Get/Fetch/Pin (ensureLocal)
//	       │                                        │ hints → connect first
//	 plan + quota check (up front)                  │ root block → declared size
//	       │                                  quota check, LRU cache eviction
//	 UnixFS importer (256 KiB raw leaves,           │
//	 balanced, 174 links, CIDv1)              level-order walk: local blocks
//	       │                                  sized or read; missing ones from
//	 writeDAG: 8 MiB batches, new blocks      a bitswap session; DHT lookup
//	 only, within the reservation             when no hint serves
//	       │                                        │
//	       └────────────┬───────────────────────────┘
//	                    ▼
//	 blockstore: verify on read ─ countingDatastore ─ flatfs  (blocks/)
//	 metadata: pins, cache LRU, in-flight markers  ─ leveldb (meta/)
//	                    │
//	 pin/cache record + marker removal in one leveldb batch; DHT announce
//
// # Storage
//
// Blocks live in go-ds-flatfs under blocks/, sharded next-to-last/2: one
// file per block, written to a temporary file and renamed into place, so a
// kill -9 leaves a block either absent or whole. Kubo also fsyncs each
// block; here (on Linux) a record is what forces blocks to disk: before a
// metadata batch that writes a pin or cache record commits, one syncfs(2)
// flushes every block written since the last flush (blocksync.go). A
// 256 MiB fetch makes one flush instead of an fsync for each of its 1,024
// blocks, and a power cut can lose only blocks that no record names yet,
// which the sweep of interrupted operations removes. Elsewhere flatfs
// fsyncs each block. flatfs is what Kubo uses by default, needs no
// compaction and its files can be inspected by hand. Pebble (Kubo's other
// choice) was not taken: it brings many more dependencies, and its
// cockroachdb/swiss dependency has had trouble with Go 1.26. Metadata
// lives in go-ds-leveldb under meta/ with synced writes; every state
// change (pin written + in-flight marker cleared, cache entries dropped) is
// one leveldb batch. Operations that write blocks first leave an in-flight
// marker; Open sweeps unreferenced blocks when it finds one, so an add
// killed midway leaves nothing behind.
// The byte count the quota uses is exact: a wrapper around flatfs counts
// every block written or deleted (flatfs's own DiskUsage is an estimate).
//
// # Verification
//
// boxo v0.43 has no HashOnRead option any more; the blockstore here is
// wrapped so every Get re-hashes the block and compares it with its CID. A
// mismatch is ErrCorruptBlock, names the CID, and the corrupt file is
// deleted, so the bitswap server (which reads through the same blockstore)
// never sends it and the next fetch replaces it from a peer. Blocks from
// peers are verified too: bitswap derives each received block's CID from
// its bytes.
//
// # Import settings (Kubo `ipfs add --cid-version=1`)
//
// Chunker size-262144; raw leaves; balanced layout with at most 174 links
// per node; CIDv1, sha2-256; dag-pb (links first, canonical) for inner
// file nodes and directories; basic directories switch to HAMT shards past
// 256 KiB estimated by link size (boxo's legacy default, as Kubo 0.38);
// no mode or mtime. A single-chunk file is its raw leaf; the empty file is
// bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku. As in
// `ipfs add -r` without --hidden, entries whose names start with "." are
// skipped (AddResult.Skipped lists them); symlinks and special files are
// refused. testdata/kubo-vectors.json holds CIDs from real Kubo for
// content internal/genvectors writes.
//
// # Network limits
//
// Bitswap reads length-prefixed messages capped at 4 MiB
// (network.MessageSizeMax) and rejects blocks whose hash does not match.
// Fetches accept blocks of at most 2 MiB, refuse DAGs deeper than 128
// levels, walk each block once however often it is linked, and write
// within a quota reservation sized from the root's declared size, so a
// lying peer cannot make a node store more than its quota. Directory entry
// names from peers are checked before anything is written. Zero-byte
// blocks are created locally: boxo's bitswap server never sends them.
//
// Bitswap's simulated DONT_HAVEs are off: on a busy machine their
// latency-based timeouts wrote off the only peer holding the data and a
// fetch could wait forever. Instead a fetch that receives nothing for 2 s
// asks the DHT for providers, and after 4 s starts a fresh bitswap session,
// which asks every connected peer again. No fetch waits forever: a pure
// wait state (wait.go) ends it with ErrNoProvider when no block arrived and
// no provider was found within Wait.FindWithin (30 s), with ErrStalled when
// blocks stop for Wait.Stall (1 m), and turns the context's deadline into
// the same WaitError, which says how far the fetch got.
//
// # Pins and owners
//
// A pin belongs to an owner (a slash-separated path: "user",
// "job/<id>/round/<r>/weights", "tasklet/<job>/<round>/<index>", …) and
// has a name. The record under /pins/<cid> lists every owner's claim, so a
// DAG stays pinned until the last owner releases it (UnpinOwned,
// ReleaseOwner for a whole subtree of owners). The DAGs whose last claim
// ReleaseOwner drops are deleted in the background soon after (collect.go
// visits only those DAGs, keeping blocks any pin or cache entry still
// reaches). Other dropped claims (unpin) only mark that garbage may exist;
// reserve collects it (a full GC) the first time the quota is short,
// before it evicts any cache entry. Records written before owners existed
// are rewritten with the owner "user" by Open.
//
// # Announcements
//
// After an add, the root, every directory and every file is provided in
// the DHT (a dataset's shards can be found one by one); pins and fetched
// cache entries are announced the same way, and all of them again every
// ReprovideInterval (12 h by default; records live 48 h). Blocks below a
// file are not announced: bitswap asks the peers that provided the root.
package datagrid
