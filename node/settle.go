package node

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/gridswarm/gridswarm/internal/fsutil"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/settle"
	"github.com/gridswarm/gridswarm/settle/embedded"
	"github.com/gridswarm/gridswarm/settle/rpcchain"
)

// settleFile is where a daemon running the embedded chain keeps the
// addresses of the contracts it deployed there, inside the repo.
const settleFile = "settle.json"

// Test funds of a daemon on its own embedded chain: ether at genesis (gas
// for its transactions) and tokens minted after the deployment (budgets
// for the jobs it submits). A dev chain's ledger is its host's alone.
var (
	devEther  = new(big.Int).Exp(big.NewInt(10), big.NewInt(24), nil) // 1,000,000 ether
	devTokens = new(big.Int).Exp(big.NewInt(10), big.NewInt(24), nil) // 1,000,000 tokens of 18 decimals
)

// chainSetupTimeout bounds opening, deploying and funding at start.
const chainSetupTimeout = 2 * time.Minute

// ErrSettleOff answers every settle_ call when no chain is configured.
var ErrSettleOff = errors.New("settlement is off: set settle.backend to \"embedded\" (a chain in this daemon) or \"rpc\" (an endpoint) with `gridswarm config set settle.backend embedded`, then restart the daemon")

// chainBackend is what the node needs from a chain besides settle.Chain:
// ether balances and the head, for settle_balance and settle_info.
type chainBackend interface {
	settle.Chain
	BalanceAt(ctx context.Context, who common.Address, block *big.Int) (*big.Int, error)
	BlockNumber(ctx context.Context) (uint64, error)
}

// settlement is the node's chain and contracts; nil when settle is off.
type settlement struct {
	backend string
	chain   chainBackend
	client  *settle.Client
	token   settle.TokenMeta
	httpURL string // the chain's endpoints as wallets reach them
	wsURL   string
	close   func() error
}

// settleRecord is settle.json: the embedded chain's deployment.
type settleRecord struct {
	ChainID   uint64           `json:"chain_id"`
	Addresses settle.Addresses `json:"addresses"`
	// Deployer is the account that deployed (and owns the test token).
	Deployer common.Address `json:"deployer"`
	Deployed time.Time      `json:"deployed"`
}

// openSettlement starts or connects to the configured chain; nil, nil when
// settle.backend is off.
func openSettlement(ctx context.Context, cfg config.Settle, repoDir string, key *ecdsa.PrivateKey, log *slog.Logger) (*settlement, error) {
	ctx, cancel := context.WithTimeout(ctx, chainSetupTimeout)
	defer cancel()
	switch cfg.Backend {
	case config.SettleEmbedded:
		return openEmbedded(ctx, cfg, repoDir, key, log)
	case config.SettleRPC:
		return openRPC(ctx, cfg, key, log)
	default:
		return nil, nil
	}
}

func openEmbedded(ctx context.Context, cfg config.Settle, repoDir string, key *ecdsa.PrivateKey, log *slog.Logger) (_ *settlement, err error) {
	account := crypto.PubkeyToAddress(key.PublicKey)
	dir := filepath.Join(repoDir, cfg.Dir)
	chain, err := embedded.Open(embedded.Config{
		Dir:          dir,
		ChainID:      cfg.EffectiveChainID(),
		Alloc:        types.GenesisAlloc{account: {Balance: devEther}},
		FeeRecipient: account,
		Port:         cfg.ChainPort(),
	})
	if err != nil {
		return nil, fmt.Errorf("settle.backend embedded: %w", err)
	}
	defer func() {
		if err != nil {
			chain.Close()
		}
	}()
	auth := bind.NewKeyedTransactor(key, chain.ChainID())
	path := filepath.Join(repoDir, settleFile)
	rec, err := loadSettleRecord(path)
	switch {
	case err == nil:
		if rec.ChainID != chain.ChainID().Uint64() {
			return nil, fmt.Errorf("%s is for chain %d but the chain in %s is %v: move %s away to deploy anew", path, rec.ChainID, dir, chain.ChainID(), settleFile)
		}
		if err := rec.Addresses.Verify(ctx, chain); err != nil {
			return nil, fmt.Errorf("%s names contracts the chain in %s does not hold (was the chain folder replaced?): move %s away to deploy anew: %w", path, dir, settleFile, err)
		}
	case errors.Is(err, os.ErrNotExist):
		if rec, err = deployDev(ctx, chain, auth, path, log); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	s := &settlement{
		backend: config.SettleEmbedded,
		chain:   chain,
		client:  settle.NewClient(chain, auth, rec.Addresses),
		httpURL: chain.HTTPURL(),
		wsURL:   chain.WSURL(),
		close:   chain.Close,
	}
	if s.token, err = s.client.TokenMeta(ctx); err != nil {
		return nil, fmt.Errorf("settle: cannot read the token at %s: %w", rec.Addresses.Token, err)
	}
	log.Info("embedded chain ready", "chain_id", chain.ChainID(), "rpc", s.httpURL, "token", rec.Addresses.Token, "stake", rec.Addresses.Stake)
	return s, nil
}

// deployDev deploys the contracts on this daemon's own chain, mints its
// account test tokens and records the deployment. A crash before the
// record is written deploys again at the next start (the chain keeps the
// orphans; nothing refers to them).
func deployDev(ctx context.Context, chain settle.Chain, auth *bind.TransactOpts, path string, log *slog.Logger) (settleRecord, error) {
	start := time.Now()
	addrs, err := settle.Deploy(ctx, chain, auth, settle.DefaultDeployParams())
	if err != nil {
		return settleRecord{}, fmt.Errorf("settle: cannot deploy the contracts on the embedded chain: %w", err)
	}
	if _, err := settle.NewClient(chain, auth, addrs).Mint(ctx, auth.From, devTokens); err != nil {
		return settleRecord{}, fmt.Errorf("settle: cannot mint test tokens to %s: %w", auth.From, err)
	}
	rec := settleRecord{ChainID: chain.ChainID().Uint64(), Addresses: addrs, Deployer: auth.From, Deployed: time.Now().UTC()}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return rec, fmt.Errorf("settle: cannot encode %s: %w", path, err)
	}
	if err := fsutil.WriteFile(path, b, 0o600); err != nil {
		return rec, fmt.Errorf("settle: cannot record the deployment in %s: %w", path, err)
	}
	log.Info("deployed the settlement contracts", "took", time.Since(start).Round(time.Millisecond), "token", addrs.Token, "escrow", addrs.Escrow, "registry", addrs.Registry, "stake", addrs.Stake)
	return rec, nil
}

// maxSettleFile bounds settle.json: a few hundred bytes when sane.
const maxSettleFile = 64 << 10

func loadSettleRecord(path string) (settleRecord, error) {
	var rec settleRecord
	f, err := os.Open(path)
	if err != nil {
		return rec, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return rec, fmt.Errorf("settle: cannot read %s: %w", path, err)
	}
	if st.Size() > maxSettleFile {
		return rec, fmt.Errorf("settle: %s is %d bytes, over %d: it is not a deployment record; move it away to deploy anew", path, st.Size(), maxSettleFile)
	}
	if err := json.NewDecoder(f).Decode(&rec); err != nil {
		return rec, fmt.Errorf("settle: %s is corrupt (%v): restore it or move it away to deploy anew", path, err)
	}
	if rec.ChainID == 0 || rec.Addresses.Token == (common.Address{}) || rec.Addresses.Stake == (common.Address{}) {
		return rec, fmt.Errorf("settle: %s lacks the chain ID or contract addresses: restore it or move it away to deploy anew", path)
	}
	return rec, nil
}

func openRPC(ctx context.Context, cfg config.Settle, key *ecdsa.PrivateKey, log *slog.Logger) (_ *settlement, err error) {
	chain, err := rpcchain.Dial(ctx, rpcchain.Config{URL: cfg.RPCURL, ChainID: cfg.EffectiveChainID(), Confirmations: cfg.Confirmations})
	if err != nil {
		return nil, fmt.Errorf("settle.rpc_url: %w", err)
	}
	defer func() {
		if err != nil {
			chain.Close()
		}
	}()
	addrs := settle.Addresses{
		Token:    common.HexToAddress(cfg.Token),
		Escrow:   common.HexToAddress(cfg.Escrow),
		Registry: common.HexToAddress(cfg.Registry),
		Stake:    common.HexToAddress(cfg.Stake),
	}
	if err := addrs.Verify(ctx, chain); err != nil {
		return nil, fmt.Errorf("settle.token, .escrow, .registry, .stake on %s: %w", cfg.RPCURL, err)
	}
	s := &settlement{
		backend: config.SettleRPC,
		chain:   chain,
		client:  settle.NewClient(chain, bind.NewKeyedTransactor(key, chain.ChainID()), addrs),
		close:   func() error { chain.Close(); return nil },
	}
	if isWS(cfg.RPCURL) {
		s.wsURL = cfg.RPCURL
	} else {
		s.httpURL = cfg.RPCURL
	}
	if s.token, err = s.client.TokenMeta(ctx); err != nil {
		return nil, fmt.Errorf("settle.token %s: %w", addrs.Token, err)
	}
	log.Info("connected to the settlement chain", "chain_id", chain.ChainID(), "rpc", cfg.RPCURL, "token", addrs.Token)
	return s, nil
}

func isWS(u string) bool {
	return len(u) > 5 && (u[:5] == "ws://" || (len(u) > 6 && u[:6] == "wss://"))
}

// receiptDomain is the EIP-712 domain receipts are signed in: the chain
// and WorkerStake when settling, else the configured (or legacy) chain ID
// with no verifying contract.
func receiptDomain(s *settlement, cfg config.Settle) receipt.Domain {
	if s != nil {
		return s.client.ReceiptDomain()
	}
	return receipt.Domain{ChainID: cfg.EffectiveChainID()}
}
