package node

import (
	"context"
	"errors"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/settle"
)

func embeddedCfg() config.Settle {
	c, _ := config.Default(config.ProfileLocal)
	c.Settle.Backend = config.SettleEmbedded
	return c.Settle
}

func openOrFail(t *testing.T, cfg config.Settle, dir string) *settlement {
	t.Helper()
	key, err := crypto.ToECDSA(crypto.Keccak256([]byte("node settle test key")))
	if err != nil {
		t.Fatal(err)
	}
	s, err := openSettlement(context.Background(), cfg, dir, key, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if s == nil {
		t.Fatalf("openSettlement(%s) = nil", cfg.Backend)
	}
	return s
}

// config says "auto" means settle.DefaultChainID without importing settle.
func TestConfigAutoChainIDIsSettles(t *testing.T) {
	if got := embeddedCfg().EffectiveChainID(); got != settle.DefaultChainID {
		t.Errorf("config's auto chain ID %d, settle.DefaultChainID %d", got, settle.DefaultChainID)
	}
}

func TestSettleOffStartsNothing(t *testing.T) {
	c, _ := config.Default(config.ProfileLocal)
	s, err := openSettlement(context.Background(), c.Settle, t.TempDir(), nil, slog.New(slog.DiscardHandler))
	if s != nil || err != nil {
		t.Fatalf("off: %v, %v; want nil, nil", s, err)
	}
	if d := receiptDomain(nil, c.Settle); d.ChainID != config.SettleOffChainID || d.VerifyingContract != ([20]byte{}) {
		t.Errorf("off: receipt domain %+v, want chain %d and no contract", d, config.SettleOffChainID)
	}
	svc := &SettleService{n: &Node{}}
	if _, err := svc.Info(context.Background()); !errors.Is(err, ErrSettleOff) || !strings.Contains(err.Error(), "settle.backend") {
		t.Errorf("settle_info while off: %v, want ErrSettleOff naming settle.backend", err)
	}
	if _, err := svc.Balance(context.Background(), nil); !errors.Is(err, ErrSettleOff) {
		t.Errorf("settle_balance while off: %v, want ErrSettleOff", err)
	}
}

// The embedded chain deploys and funds on first start, records the
// deployment, finds it again after a restart; an rpc backend pointed at it
// sees the same contracts; settle.json that does not match the chain is
// refused with what to do.
func TestEmbeddedDeploysOnceAndRPCSeesIt(t *testing.T) {
	if testing.Short() && !raceEnabled {
		t.Skip("starts a chain twice; runs without -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	cfg := embeddedCfg()

	s := openOrFail(t, cfg, dir)
	first := s.client.Addresses()
	if s.chain.ChainID().Uint64() != settle.DefaultChainID {
		t.Errorf("chain ID %v, want %d", s.chain.ChainID(), settle.DefaultChainID)
	}
	if d := receiptDomain(s, cfg); d.ChainID != settle.DefaultChainID || d.VerifyingContract != first.Stake {
		t.Errorf("receipt domain %+v, want chain %d and WorkerStake %s", d, settle.DefaultChainID, first.Stake)
	}
	svc := &SettleService{n: &Node{settle: s}}
	bal, err := svc.Balance(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bal.Address != s.client.From().Hex() || bal.Token != devTokens.String() || bal.TokenSymbol != "GRID" {
		t.Errorf("own balance %+v, want %s GRID for %s", bal, devTokens, s.client.From().Hex())
	}
	if eth, _ := new(big.Int).SetString(bal.Ether, 10); eth == nil || eth.Sign() <= 0 {
		t.Errorf("own ether %q, want gas money", bal.Ether)
	}
	other := "0x000000000000000000000000000000000000dEaD"
	if b, err := svc.Balance(ctx, &other); err != nil || b.Token != "0" || b.Address != other {
		t.Errorf("balance of %s: %+v, %v; want 0", other, b, err)
	}
	bad := "0x12"
	if _, err := svc.Balance(ctx, &bad); err == nil || !strings.Contains(err.Error(), "not an Ethereum address") {
		t.Errorf("balance of %q: %v, want a clear refusal", bad, err)
	}
	info, err := svc.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.ChainID != settle.DefaultChainID || info.AddChain.ChainID != "0x67726964" || len(info.RPCURLs) != 1 ||
		!strings.HasPrefix(info.RPCURLs[0], "http://127.0.0.1:") || info.Contracts.Stake != first.Stake.Hex() ||
		info.Token.Symbol != "GRID" || info.Token.Decimals != 18 || info.WatchAsset.Options.Address != first.Token.Hex() {
		t.Errorf("settle_info = %+v", info)
	}

	// rpc, pointed at the running chain, with the addresses settle_info gave.
	rc := cfg
	rc.Backend, rc.RPCURL = config.SettleRPC, info.RPCURLs[0]
	rc.Token, rc.Escrow, rc.Registry, rc.Stake = info.Contracts.Token, info.Contracts.Escrow, info.Contracts.Registry, info.Contracts.Stake
	r := openOrFail(t, rc, t.TempDir())
	if r.client.Addresses() != first || r.token != s.token {
		t.Errorf("rpc sees %+v %+v, want %+v %+v", r.client.Addresses(), r.token, first, s.token)
	}
	rb, err := (&SettleService{n: &Node{settle: r}}).Balance(ctx, nil)
	if err != nil || rb.Token != devTokens.String() {
		t.Errorf("balance through rpc: %+v, %v; want %s", rb, err, devTokens)
	}
	// The wrong chain ID is refused by the rpc backend.
	wrong := rc
	wrong.ChainID = 1337
	if _, err := openSettlement(ctx, wrong, t.TempDir(), nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "settle.rpc_url") {
		t.Errorf("rpc with the wrong chain ID: %v, want a refusal naming settle.rpc_url", err)
	}
	// A contract that is not there is refused.
	noCode := rc
	noCode.Escrow = "0x000000000000000000000000000000000000bEEF"
	if _, err := openSettlement(ctx, noCode, t.TempDir(), nil, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "no contract there") {
		t.Errorf("rpc with an escrow that has no code: %v", err)
	}
	r.close()
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	// Restart: the same deployment, no second mint.
	s = openOrFail(t, cfg, dir)
	if got := s.client.Addresses(); got != first {
		t.Errorf("after restart: %+v, want %+v", got, first)
	}
	if b, err := s.client.BalanceOf(ctx, s.client.From()); err != nil || b.Cmp(devTokens) != 0 {
		t.Errorf("after restart: balance %v, %v; want %v", b, err, devTokens)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	// A record of contracts the chain does not hold is refused, not redeployed over.
	path := filepath.Join(dir, settleFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), strings.ToLower(first.Escrow.Hex()[2:]), "00000000000000000000000000000000000000ee", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	key, _ := crypto.ToECDSA(crypto.Keccak256([]byte("node settle test key")))
	if _, err := openSettlement(ctx, cfg, dir, key, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "move settle.json away") {
		t.Errorf("settle.json naming an escrow with no code: %v, want a refusal saying what to do", err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openSettlement(ctx, cfg, dir, key, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt settle.json: %v", err)
	}
}
