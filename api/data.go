package api

import "time"

// AddResult is data_add's answer.
type AddResult struct {
	CID      string      `json:"cid"`
	Name     string      `json:"name"`
	Size     uint64      `json:"size"`
	DAGBytes uint64      `json:"dag_bytes"`
	Files    []AddedFile `json:"files"`
	Skipped  []string    `json:"skipped,omitempty"`
}

// AddedFile is one file of an add.
type AddedFile struct {
	Path string `json:"path"`
	CID  string `json:"cid"`
	Size uint64 `json:"size"`
}

// WaitOptions bound how long a data_ method waits on peers. Zero fields
// take the defaults; negative ones are refused.
type WaitOptions struct {
	// TimeoutSeconds bounds the whole operation (data_ls: default 60;
	// data_get, data_pin: none). It is also how long the operation looks
	// for a provider (default 30).
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	// StallSeconds fails a fetch when no block arrives for this long
	// (default 60).
	StallSeconds float64 `json:"stall_seconds,omitempty"`
}

// GetOptions tune data_get.
type GetOptions struct {
	Op string `json:"op,omitempty"` // progress stream ID
	// TimeoutSeconds and StallSeconds are as in WaitOptions (data_get has
	// no overall limit by default).
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	StallSeconds   float64 `json:"stall_seconds,omitempty"`
}

// Entry is one row of data_ls.
type Entry struct {
	Name string `json:"name"`
	CID  string `json:"cid"`
	Size uint64 `json:"size"`
	Type string `json:"type"`
}

// PinOptions tune data_pin.
type PinOptions struct {
	// Owner of the pin (default "user"); see docs/architecture.md.
	Owner string `json:"owner,omitempty"`
	// Name of the pin (default: the CID).
	Name string `json:"name,omitempty"`
	// TimeoutSeconds and StallSeconds are as in WaitOptions (data_pin has
	// no overall limit by default).
	TimeoutSeconds float64 `json:"timeout_seconds,omitempty"`
	StallSeconds   float64 `json:"stall_seconds,omitempty"`
}

// UnpinOptions tune data_unpin.
type UnpinOptions struct {
	Owner string `json:"owner,omitempty"` // whose pin goes (default "user")
	All   bool   `json:"all,omitempty"`   // every owner's pin goes
}

// PinInfo is one row of data_pins: one owner's pin of a CID.
type PinInfo struct {
	CID     string    `json:"cid"`
	Owner   string    `json:"owner"`
	Name    string    `json:"name,omitempty"`
	Bytes   uint64    `json:"bytes"`
	Created time.Time `json:"created"`
}

// GCResult is data_gc's answer.
type GCResult struct {
	RemovedBlocks int     `json:"removed_blocks"`
	FreedBytes    uint64  `json:"freed_bytes"`
	EvictedCache  int     `json:"evicted_cache"`
	Seconds       float64 `json:"seconds"`
}

// Stat is data_stat's answer.
type Stat struct {
	UsedBytes    uint64 `json:"used_bytes"`
	QuotaBytes   uint64 `json:"quota_bytes"`
	FreeBytes    uint64 `json:"free_bytes"`
	PinnedBytes  uint64 `json:"pinned_bytes"`
	CacheBytes   uint64 `json:"cache_bytes"`
	Blocks       int64  `json:"blocks"`
	Pins         int    `json:"pins"`
	CacheEntries int    `json:"cache_entries"`
}

// Exchange is data_exchange's answer: bitswap traffic since the daemon
// started.
type Exchange struct {
	FetchedBytes  uint64 `json:"fetched_bytes"`
	FetchedBlocks uint64 `json:"fetched_blocks"`
	ServedBytes   uint64 `json:"served_bytes"`
	ServedBlocks  uint64 `json:"served_blocks"`
	// FromPeers is the block bytes each peer sent, by peer ID.
	FromPeers map[string]uint64 `json:"from_peers"`
}

// Holding is one row of data_holds.
type Holding struct {
	CID        string `json:"cid"`
	LocalBytes uint64 `json:"local_bytes"`
	TotalBytes uint64 `json:"total_bytes"`
	Complete   bool   `json:"complete"`
	Pinned     bool   `json:"pinned"`
}
