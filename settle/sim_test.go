package settle

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
)

// simChain is go-ethereum's simulated backend as a Chain: Confirm seals a
// block, so each confirmed transaction is mined on its own block.
type simChain struct {
	simulated.Client
	b  *simulated.Backend
	id *big.Int
}

func (s *simChain) ChainID() *big.Int { return new(big.Int).Set(s.id) }

func (s *simChain) Confirm(ctx context.Context, h common.Hash) (*types.Receipt, error) {
	s.b.Commit()
	return s.TransactionReceipt(ctx, h)
}

var _ Chain = (*simChain)(nil)

// fixture is a simulated chain with the contracts deployed and a client
// for each role. The deployer owns the GridToken.
type fixture struct {
	t                                       testing.TB
	ctx                                     context.Context
	chain                                   *simChain
	addrs                                   Addresses
	deployer, coordinator, submitter, owner *Client
	outsider                                *Client
	workers                                 []*Client
	workerKeys                              []*ecdsa.PrivateKey
}

// key derives a fixed test key from n, so failures replay identically.
func key(t testing.TB, n int) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.ToECDSA(crypto.Keccak256([]byte{byte(n >> 8), byte(n), 'g', 's'}))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newFixture(t testing.TB, workers int) *fixture {
	t.Helper()
	const roles = 5
	keys := make([]*ecdsa.PrivateKey, roles+workers)
	alloc := types.GenesisAlloc{}
	eth := new(big.Int).Exp(big.NewInt(10), big.NewInt(21), nil) // 1000 ether each
	for i := range keys {
		keys[i] = key(t, i)
		alloc[crypto.PubkeyToAddress(keys[i].PublicKey)] = types.Account{Balance: eth}
	}
	b := simulated.NewBackend(alloc, func(_ *node.Config, c *ethconfig.Config) {
		c.Genesis.Config = ChainConfig(DefaultChainID)
	})
	t.Cleanup(func() { b.Close() })
	ch := &simChain{Client: b.Client(), b: b, id: big.NewInt(DefaultChainID)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)

	auth := func(k *ecdsa.PrivateKey) *bind.TransactOpts { return bind.NewKeyedTransactor(k, ch.id) }
	addrs, err := Deploy(ctx, ch, auth(keys[0]), DefaultDeployParams())
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	f := &fixture{t: t, ctx: ctx, chain: ch, addrs: addrs}
	clients := make([]*Client, len(keys))
	for i, k := range keys {
		clients[i] = NewClient(ch, auth(k), addrs)
	}
	f.deployer, f.coordinator, f.submitter, f.owner, f.outsider = clients[0], clients[1], clients[2], clients[3], clients[4]
	f.workers = clients[roles:]
	f.workerKeys = keys[roles:]
	return f
}

// now is the latest block's time.
func (f *fixture) now() time.Time {
	f.t.Helper()
	h, err := f.chain.HeaderByNumber(f.ctx, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return time.Unix(int64(h.Time), 0)
}

// advance moves the chain's clock forward by d on a new empty block. The
// simulated pool drops mined transactions asynchronously after a block, and
// AdjustTime refuses while it still lists any, so it retries until the pool
// has caught up (bounded by a deadline).
func (f *fixture) advance(d time.Duration) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		err := f.chain.b.AdjustTime(d)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("advance the chain's clock: %v", err)
		}
		select {
		case <-tick.C:
		case <-f.ctx.Done():
			f.t.Fatal(f.ctx.Err())
		}
	}
}

func (f *fixture) mint(to common.Address, amount *big.Int) {
	f.t.Helper()
	if _, err := f.deployer.Mint(f.ctx, to, amount); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) balance(who common.Address) *big.Int {
	f.t.Helper()
	b, err := f.deployer.BalanceOf(f.ctx, who)
	if err != nil {
		f.t.Fatal(err)
	}
	return b
}

func addrs(cs []*Client) []common.Address {
	out := make([]common.Address, len(cs))
	for i, c := range cs {
		out[i] = c.From()
	}
	return out
}

func n(x int64) *big.Int { return big.NewInt(x) }
