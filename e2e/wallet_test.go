package e2e

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/settle"
)

// configSet runs `gridswarm config set KEY VALUE` as a user would.
func configSet(t *testing.T, dir, key, value string) {
	t.Helper()
	if r := gs(t, dir, "config", "set", key, value); r.code != 0 {
		t.Fatalf("config set %s %s: exit %d\n%s%s", key, value, r.code, r.out, r.err)
	}
}

// erc20BalanceOf reads balanceOf(who) with go-ethereum's ethclient and a
// hand-made call: nothing of ours between the test and the chain.
func erc20BalanceOf(t *testing.T, ctx context.Context, ec *ethclient.Client, token, who string) *big.Int {
	t.Helper()
	to := common.HexToAddress(token)
	data := append([]byte{0x70, 0xa0, 0x82, 0x31}, common.LeftPadBytes(common.HexToAddress(who).Bytes(), 32)...)
	out, err := ec.CallContract(ctx, ethereum.CallMsg{To: &to, Data: data}, nil)
	if err != nil || len(out) != 32 {
		t.Fatalf("balanceOf(%s) on %s: %x, %v", who, token, out, err)
	}
	return new(big.Int).SetBytes(out)
}

// A daemon with settle.backend = "embedded" runs a chain, deploys and funds
// itself; a standard Ethereum client reads its token balance from the
// advertised URL; a second daemon on the rpc backend sees the same
// deployment; kill -9 and a restart keep the deployment and balances.
func TestWalletOnEmbeddedChain(t *testing.T) {
	skipShort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	a := initRepo(t)
	configSet(t, a, "settle.backend", "embedded")
	da := startDaemon(t, a)

	var info api.SettleInfo
	mustJSON(t, a, &info, "wallet", "info")
	var addr map[string]string
	mustJSON(t, a, &addr, "wallet", "address")
	if info.ChainID != settle.DefaultChainID || info.Backend != "embedded" || len(info.RPCURLs) != 1 || info.Account != addr["address"] {
		t.Fatalf("wallet info = %+v; want chain %d, one RPC URL, account %s", info, settle.DefaultChainID, addr["address"])
	}
	for name, c := range map[string]string{"token": info.Contracts.Token, "escrow": info.Contracts.Escrow, "registry": info.Contracts.Registry, "stake": info.Contracts.Stake} {
		if !common.IsHexAddress(c) || common.HexToAddress(c) == (common.Address{}) {
			t.Errorf("wallet info: %s address %q", name, c)
		}
	}
	text := gs(t, a, "wallet", "info")
	for _, want := range []string{"Chain ID", "RPC URL", info.RPCURLs[0], info.Token.Address, "GRID"} {
		if !strings.Contains(text.out, want) {
			t.Errorf("wallet info does not show %q:\n%s", want, text.out)
		}
	}

	ec, err := ethclient.DialContext(ctx, info.RPCURLs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer ec.Close()
	if id, err := ec.ChainID(ctx); err != nil || id.Uint64() != info.ChainID {
		t.Fatalf("eth_chainId at %s: %v, %v; want %d", info.RPCURLs[0], id, err, info.ChainID)
	}
	onChain := erc20BalanceOf(t, ctx, ec, info.Token.Address, info.Account)
	var bal api.SettleBalance
	mustJSON(t, a, &bal, "wallet", "balance")
	if onChain.Sign() <= 0 || bal.Token != onChain.String() {
		t.Fatalf("token balance: chain says %v, wallet balance says %+v; want the same, above 0", onChain, bal)
	}
	if eth, err := ec.BalanceAt(ctx, common.HexToAddress(info.Account), nil); err != nil || eth.String() != bal.Ether || eth.Sign() <= 0 {
		t.Errorf("ether: chain says %v (%v), wallet balance says %s", eth, err, bal.Ether)
	}

	// A second daemon settles through the first's chain.
	b := initRepo(t)
	for _, kv := range [][2]string{
		{"settle.rpc_url", info.RPCURLs[0]}, {"settle.token", info.Contracts.Token}, {"settle.escrow", info.Contracts.Escrow},
		{"settle.registry", info.Contracts.Registry}, {"settle.stake", info.Contracts.Stake}, {"settle.backend", "rpc"},
	} {
		configSet(t, b, kv[0], kv[1])
	}
	db := startDaemon(t, b)
	var infoB api.SettleInfo
	mustJSON(t, b, &infoB, "wallet", "info")
	if infoB.Backend != "rpc" || infoB.ChainID != info.ChainID || infoB.Contracts != info.Contracts || infoB.Token != info.Token || infoB.Account == info.Account {
		t.Errorf("rpc daemon's wallet info = %+v; want the first's chain and contracts %+v with its own account", infoB, info.Contracts)
	}
	var balViaB api.SettleBalance
	mustJSON(t, b, &balViaB, "wallet", "balance", info.Account)
	if balViaB.Token != bal.Token {
		t.Errorf("the first's balance read through the second: %s, want %s", balViaB.Token, bal.Token)
	}
	db.stop()

	// kill -9, restart: same deployment, same balances, no redeploy.
	da.kill9()
	startDaemon(t, a)
	var again api.SettleInfo
	mustJSON(t, a, &again, "wallet", "info")
	if again.Contracts != info.Contracts || again.ChainID != info.ChainID || again.Head < info.Head {
		t.Errorf("after kill -9: %+v (head %d); want contracts %+v and head at least %d", again.Contracts, again.Head, info.Contracts, info.Head)
	}
	var balAgain api.SettleBalance
	mustJSON(t, a, &balAgain, "wallet", "balance")
	if balAgain.Token != bal.Token {
		t.Errorf("after kill -9: token balance %s, want %s", balAgain.Token, bal.Token)
	}
	if _, err := os.Stat(filepath.Join(a, "settle.json")); err != nil {
		t.Errorf("the deployment is not recorded in the repo: %v", err)
	}
}

// With settlement off (every profile's default) no chain starts, and the
// settle_ namespace and the wallet say how to turn it on.
func TestWalletSettleOff(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	d := startDaemon(t, dir)
	_, err := d.client(t).SettleInfo(context.Background())
	if err == nil || !strings.Contains(err.Error(), "settlement is off: set settle.backend") {
		t.Errorf("settle_info with settlement off: %v, want the clear error", err)
	}
	r := gs(t, dir, "wallet", "balance")
	if r.code != 1 || !strings.Contains(r.err, "settlement is off: set settle.backend") {
		t.Errorf("wallet balance with settlement off: exit %d, stderr %q", r.code, r.err)
	}
	if r := gs(t, dir, "wallet", "address"); r.code != 0 || !common.IsHexAddress(strings.TrimSpace(r.out)) {
		t.Errorf("wallet address: exit %d, %q %q; want the account", r.code, r.out, r.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "chain")); !os.IsNotExist(err) {
		t.Errorf("settlement off created a chain folder (%v)", err)
	}
}
