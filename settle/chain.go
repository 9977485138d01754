package settle

import (
	"context"
	"math/big"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
)

// Chain is what settlement needs from a chain backend: the standard client
// calls the bindings make, the chain's ID, and a wait for a transaction to
// be mined and confirmed as the backend requires. The embedded and rpc
// backends implement it; tests use go-ethereum's simulated backend.
type Chain interface {
	bind.ContractBackend
	TransactionReceipt(ctx context.Context, tx common.Hash) (*types.Receipt, error)
	ChainID() *big.Int
	// Confirm waits until tx is mined and has the backend's number of
	// confirmations, and returns its receipt (failed or not).
	Confirm(ctx context.Context, tx common.Hash) (*types.Receipt, error)
}

// DefaultChainID is the embedded chain's ID: "grid" in ASCII. Every dev
// chain uses 1337 or 31337, and a wallet that knows one of those would mix
// their histories up with ours.
const DefaultChainID = 0x67726964

// ChainConfig is the fork schedule of gridswarm's own chains: every fork up
// to Osaka active from genesis, and none after it. go-ethereum's dev
// configuration also activates forks still in development (in v1.17.10 one
// that reprices new storage several times over), which would make gas
// figures and budgets move with each go-ethereum upgrade.
func ChainConfig(chainID uint64) *params.ChainConfig {
	c := *params.AllDevChainProtocolChanges
	c.ChainID = new(big.Int).SetUint64(chainID)
	c.BogotaTime = nil
	return &c
}
