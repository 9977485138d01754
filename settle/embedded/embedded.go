package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/eth"
	"github.com/ethereum/go-ethereum/eth/catalyst"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/eth/filters"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/event"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/gridswarm/gridswarm/settle"
)

// Modules returns the only JSON-RPC namespaces served over HTTP and
// WebSocket: what wallets and tools need, nothing that controls the node.
func Modules() []string { return []string{"eth", "net", "web3"} }

// Config configures an embedded chain. The zero value of each optional
// field is replaced by the default its comment names.
type Config struct {
	// Dir holds the chain (required); it is created if missing.
	Dir string
	// ChainID of a new chain (default settle.DefaultChainID). A chain that
	// already exists in Dir keeps its own; a different value is an error.
	ChainID uint64
	// Alloc funds accounts in a new chain's genesis (ignored afterwards).
	Alloc types.GenesisAlloc
	// FeeRecipient receives the chain's transaction fees.
	FeeRecipient common.Address
	// Port is the 127.0.0.1 port serving JSON-RPC over HTTP and WebSocket
	// (0: any free port; see HTTPURL).
	Port int
	// Origins may call over WebSocket and, for browsers, over HTTP (CORS);
	// default: none beyond same-origin requests.
	Origins []string
	// GasLimit of each block (default 30,000,000).
	GasLimit uint64
}

// Chain is a running embedded chain. It implements settle.Chain through an
// in-process client that takes the same code path as a remote one.
type Chain struct {
	*ethclient.Client
	stack   *node.Node
	backend *eth.Ethereum
	chainID *big.Int

	mu      sync.Mutex
	durable uint64        // highest block number synced to disk
	changed chan struct{} // closed and replaced when durable grows
	syncErr error

	done chan struct{} // closed by Close: stops the sync loop
	wg   sync.WaitGroup
}

var _ settle.Chain = (*Chain)(nil)

const genesisFile = "genesis.json"

// Open starts the chain in cfg.Dir, creating it on first use.
func Open(cfg Config) (*Chain, error) {
	if cfg.Dir == "" {
		return nil, errors.New("embedded chain: no data directory configured")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded chain: cannot create %s: %w", cfg.Dir, err)
	}
	genesis, err := loadOrWriteGenesis(cfg)
	if err != nil {
		return nil, err
	}
	stack, err := node.New(&node.Config{
		Name:             "gridswarm-chain",
		DataDir:          cfg.Dir,
		DBEngine:         "pebble",
		HTTPHost:         "127.0.0.1",
		HTTPPort:         cfg.Port,
		HTTPModules:      Modules(),
		HTTPVirtualHosts: []string{"localhost", "127.0.0.1"},
		HTTPCors:         cfg.Origins,
		WSHost:           "127.0.0.1",
		WSPort:           cfg.Port, // the same listener serves both
		WSModules:        Modules(),
		WSOrigins:        cfg.Origins,
		P2P:              p2p.Config{MaxPeers: 0, NoDiscovery: true, NoDial: true, ListenAddr: ""},
		// Bounds on what a client can make the chain read, hold and send:
		// geth's defaults, which a node.Config built from scratch lacks.
		HTTPTimeouts:         rpc.DefaultHTTPTimeouts,
		HTTPBodyLimit:        5 << 20,
		BatchRequestLimit:    1000,
		BatchResponseMaxSize: 25_000_000,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded chain: cannot create node: %w", err)
	}
	ec := ethconfig.Defaults
	ec.NetworkId = genesis.Config.ChainID.Uint64()
	ec.Genesis = genesis
	ec.SyncMode = ethconfig.FullSync
	ec.StateScheme = rawdb.HashScheme // crash safety: see the package doc
	ec.NoPruning = true
	ec.DatabaseCache, ec.TrieCleanCache, ec.TrieDirtyCache, ec.SnapshotCache = 16, 16, 16, 8 // MB; the defaults are for mainnet
	ec.Miner.PendingFeeRecipient = cfg.FeeRecipient
	// The pool must refuse what the miner would not include: geth's dev
	// block producer seals empty blocks in a loop while the pool holds an
	// executable transaction the miner skips (a tip under the miner's
	// minimum), so one underpriced transaction from a wallet would spin.
	ec.TxPool.PriceLimit = ec.Miner.GasPrice.Uint64()
	backend, err := eth.New(stack, &ec)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("embedded chain: cannot start the Ethereum service in %s: %w", cfg.Dir, err)
	}
	fs := filters.NewFilterSystem(backend.APIBackend, filters.Config{
		LogCacheSize:  ec.FilterLogCacheSize,
		LogQueryLimit: ec.LogQueryLimit, // addresses and topics in one eth_getLogs
		// No block range limit: geth applies it before resolving "latest",
		// so it would refuse the common query "from block 0 to the head".
	})
	stack.RegisterAPIs([]rpc.API{{Namespace: "eth", Service: filters.NewFilterAPI(fs)}})
	beacon, err := catalyst.NewSimulatedBeacon(0, cfg.FeeRecipient, backend)
	if err != nil {
		stack.Close()
		return nil, fmt.Errorf("embedded chain: cannot create block producer: %w", err)
	}
	catalyst.RegisterSimulatedBeaconAPIs(stack, beacon) // mines on each new transaction
	stack.RegisterLifecycle(beacon)

	c := &Chain{
		stack:   stack,
		backend: backend,
		chainID: new(big.Int).Set(genesis.Config.ChainID),
		changed: make(chan struct{}),
		done:    make(chan struct{}),
	}
	heads := make(chan core.ChainHeadEvent, 16)
	sub := backend.BlockChain().SubscribeChainHeadEvent(heads)
	if err := stack.Start(); err != nil {
		sub.Unsubscribe()
		stack.Close()
		return nil, fmt.Errorf("embedded chain: cannot start (is port %d taken?): %w", cfg.Port, err)
	}
	c.durable = backend.BlockChain().CurrentBlock().Number.Uint64()
	c.Client = ethclient.NewClient(stack.Attach())
	c.wg.Add(1)
	go c.syncLoop(heads, sub)
	return c, nil
}

// syncLoop makes each new head durable and wakes Confirm's waiters.
func (c *Chain) syncLoop(heads <-chan core.ChainHeadEvent, sub event.Subscription) {
	defer c.wg.Done()
	defer sub.Unsubscribe()
	for {
		select {
		case <-c.done:
			return
		case err := <-sub.Err():
			if err != nil {
				c.setSynced(0, fmt.Errorf("head subscription failed: %w", err))
			}
			return
		case ev := <-heads:
			err := c.backend.ChainDb().SyncKeyValue()
			if err != nil {
				err = fmt.Errorf("cannot sync the chain database: %w", err)
			}
			c.setSynced(ev.Header.Number.Uint64(), err)
		}
	}
}

func (c *Chain) setSynced(n uint64, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && c.syncErr == nil {
		c.syncErr = err
	}
	if n > c.durable {
		c.durable = n
	}
	close(c.changed)
	c.changed = make(chan struct{})
}

// Durable returns the highest block synced to disk.
func (c *Chain) Durable() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.durable
}

// ChainID returns the chain's ID.
func (c *Chain) ChainID() *big.Int { return new(big.Int).Set(c.chainID) }

// Confirm waits until tx is mined and its block is synced to disk. It
// wakes on each durable head, and polls as well because a lookup can fail
// for a while after a restart (the node indexes transactions).
func (c *Chain) Confirm(ctx context.Context, tx common.Hash) (*types.Receipt, error) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		c.mu.Lock()
		changed, durable, syncErr := c.changed, c.durable, c.syncErr
		c.mu.Unlock()
		if syncErr != nil {
			return nil, fmt.Errorf("embedded chain: %w", syncErr)
		}
		rec, err := c.TransactionReceipt(ctx, tx)
		if err == nil && rec.BlockNumber.Uint64() <= durable {
			return rec, nil
		}
		// Not found yet (or not durable yet): wait for the next head.
		select {
		case <-changed:
		case <-tick.C:
		case <-c.done:
			return nil, errors.New("embedded chain closed while waiting for a transaction")
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for transaction %s: %w", tx, ctx.Err())
		}
	}
}

// HTTPURL is the JSON-RPC endpoint over HTTP, for wallets and tools.
func (c *Chain) HTTPURL() string { return c.stack.HTTPEndpoint() }

// WSURL is the JSON-RPC endpoint over WebSocket.
func (c *Chain) WSURL() string { return c.stack.WSEndpoint() }

// Close stops the chain, flushing everything to disk.
func (c *Chain) Close() error {
	select {
	case <-c.done:
		return nil
	default:
	}
	close(c.done)
	c.wg.Wait()
	c.Client.Close()
	if err := c.stack.Close(); err != nil {
		return fmt.Errorf("embedded chain: cannot close: %w", err)
	}
	return nil
}

// loadOrWriteGenesis returns the chain's genesis: the one in Dir, or a new
// one written there atomically.
func loadOrWriteGenesis(cfg Config) (*core.Genesis, error) {
	path := filepath.Join(cfg.Dir, genesisFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		var g core.Genesis
		if err := json.Unmarshal(b, &g); err != nil {
			return nil, fmt.Errorf("embedded chain: %s is corrupt (%v); restore it or move the directory away to start a new chain", path, err)
		}
		if g.Config == nil || g.Config.ChainID == nil {
			return nil, fmt.Errorf("embedded chain: %s has no chain ID; restore it or move the directory away", path)
		}
		if cfg.ChainID != 0 && g.Config.ChainID.Uint64() != cfg.ChainID {
			return nil, fmt.Errorf("embedded chain: %s holds chain %v, configuration says %d: fix the configuration or use another directory", cfg.Dir, g.Config.ChainID, cfg.ChainID)
		}
		return &g, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("embedded chain: cannot read %s: %w", path, err)
	}
	id := cfg.ChainID
	if id == 0 {
		id = settle.DefaultChainID
	}
	gasLimit := cfg.GasLimit
	if gasLimit == 0 {
		gasLimit = 30_000_000
	}
	g := &core.Genesis{
		Config:     settle.ChainConfig(id),
		GasLimit:   gasLimit,
		BaseFee:    big.NewInt(1_000_000_000),
		Difficulty: big.NewInt(0),
		Alloc:      core.SystemContractAllocs(),
	}
	for a, acc := range cfg.Alloc {
		g.Alloc[a] = acc
	}
	b, err = json.MarshalIndent(g, "", " ")
	if err != nil {
		return nil, fmt.Errorf("embedded chain: cannot encode genesis: %w", err)
	}
	if err := writeFileSync(path, b); err != nil {
		return nil, fmt.Errorf("embedded chain: cannot write %s: %w", path, err)
	}
	return g, nil
}

// writeFileSync writes b to path atomically and durably.
func writeFileSync(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".genesis-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
