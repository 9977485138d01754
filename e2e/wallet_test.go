package e2e

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/ethclient"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/settle"
)

// configSet runs `gridswarm config set KEY VALUE` as a user would.
func configSet(t *testing.T, dir, key, value string) {
	t.Helper()
	if r := gs(t, dir, "config", "set", key, value); r.code != 0 {
		t.Fatalf("config set %s %s: exit %d\n%s%s", key, value, r.code, r.out, r.err)
	}
}

// chainDaemon starts a daemon that runs the embedded chain; it returns
// its repo, the daemon and its settle_info.
func chainDaemon(t *testing.T) (string, *daemon, api.SettleInfo) {
	t.Helper()
	dir := initRepo(t)
	configSet(t, dir, "settle.backend", "embedded")
	d := startDaemon(t, dir)
	var info api.SettleInfo
	mustJSON(t, dir, &info, "wallet", "info")
	return dir, d, info
}

// settleOn points the repo dir's daemon (before it starts) at the chain
// and contracts of another daemon, whose settle_info is info.
func settleOn(t *testing.T, dir string, info api.SettleInfo) {
	t.Helper()
	for _, kv := range [][2]string{
		{"settle.rpc_url", info.RPCURLs[0]}, {"settle.token", info.Contracts.Token}, {"settle.escrow", info.Contracts.Escrow},
		{"settle.registry", info.Contracts.Registry}, {"settle.stake", info.Contracts.Stake}, {"settle.backend", "rpc"},
	} {
		configSet(t, dir, kv[0], kv[1])
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
	a, da, info := chainDaemon(t)
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
	settleOn(t, b, info)
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
	walletFlow(t, ctx, a, b, info)
	db.stop()
	mustJSON(t, a, &bal, "wallet", "balance") // what kill -9 must keep

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
	// A paid job is refused before anything happens, saying what to do.
	spec := filepath.Join(t.TempDir(), "paid.yaml")
	writeFile(t, spec, []byte("version: 1\nname: paid\nmodel: {kind: softmax, inputs: 784, classes: 10}\ndataset: {cid: "+rawCID("no such dataset")+"}\npayment: {budget: \"10\", price: \"0.1\"}\n"))
	if r := gs(t, dir, "submit", spec); r.code == 0 || !strings.Contains(r.err, "payment") || !strings.Contains(r.err, "settle.backend") {
		t.Errorf("a paid job on a daemon without a chain: exit %d, %s; want an error naming payment and settle.backend", r.code, r.err)
	}
}

// walletFlow is a worker's wallet, as a user drives it: the first daemon
// (a) sends the second (b) ether for gas and tokens; b stakes, starts
// unbonding part and cannot withdraw it before the delay; an equivocation
// proof of b reported to a slashes all of it, which a's settle_subscribe
// ("events") announces.
func walletFlow(t *testing.T, ctx context.Context, a, b string, info api.SettleInfo) {
	t.Helper()
	var infoB api.SettleInfo
	mustJSON(t, b, &infoB, "wallet", "info")
	var sent []api.TxResult
	mustJSON(t, a, &sent, "wallet", "send", infoB.Account, "--tokens", "5", "--ether", "0.5")
	var balB api.SettleBalance
	mustJSON(t, b, &balB, "wallet", "balance")
	if len(sent) != 2 || balB.Token != "5000000000000000000" || balB.Ether != "500000000000000000" {
		t.Fatalf("after sending 5 tokens and 0.5 ether: %+v, balance %+v", sent, balB)
	}
	if r := gs(t, b, "wallet", "stake", "5.5"); r.code == 0 {
		t.Errorf("staking more than the balance succeeded: %s", r.out)
	}
	if r := gs(t, b, "wallet", "stake", "five"); r.code == 0 || !strings.Contains(r.err, "decimal number") {
		t.Errorf("stake five: exit %d, %s; want an error asking for a decimal number", r.code, r.err)
	}
	var tx api.TxResult
	mustJSON(t, b, &tx, "wallet", "stake", "5")
	mustJSON(t, b, &tx, "wallet", "unstake", "2")
	var st api.StakeInfo
	mustJSON(t, b, &st, "wallet", "stake-info")
	if st.Bonded != "3000000000000000000" || st.Unbonding != "2000000000000000000" || st.UnlockAt == 0 {
		t.Fatalf("after staking 5 and unstaking 2: %+v", st)
	}
	if r := gs(t, b, "wallet", "withdraw"); r.code == 0 || !strings.Contains(r.err, "StillUnbonding") {
		t.Errorf("withdraw before the delay: exit %d, %s; want StillUnbonding", r.code, r.err)
	}
	var claims []api.SettleClaim
	mustJSON(t, b, &claims, "wallet", "claims")
	if len(claims) != 0 {
		t.Errorf("claims of a worker no job paid: %+v", claims)
	}

	// An equivocation: two receipts b signed for one tasklet, two outputs.
	ca := dialWS(t, ctx, a)
	events := make(chan api.SettleEvent, 8)
	sub, err := ca.Subscribe(ctx, "settle", events, "events")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	key, err := repo.EthKey(b, passphrase)
	if err != nil {
		t.Fatal(err)
	}
	var idA, idB api.IDInfo
	mustJSON(t, a, &idA, "id")
	mustJSON(t, b, &idB, "id")
	domain := receipt.Domain{ChainID: info.ChainID, VerifyingContract: common.HexToAddress(info.Contracts.Stake)}
	r1 := receipt.Receipt{TaskletCID: rawCID("tasklet"), OutputCID: rawCID("output one"),
		WorkerPeer: idB.PeerID, Coordinator: idA.PeerID, JobID: "wallet-test", Round: 1, Samples: 10, StartedAt: 1, FinishedAt: 2, Price: "1"}
	r2 := r1
	r2.OutputCID = rawCID("output two")
	if r1, err = receipt.Sign(key, domain, r1); err != nil {
		t.Fatal(err)
	}
	if r2, err = receipt.Sign(key, domain, r2); err != nil {
		t.Fatal(err)
	}
	proof, _ := json.Marshal(map[string]any{"a": r1, "b": r2})
	pf := filepath.Join(t.TempDir(), "proof.json")
	writeFile(t, pf, proof)
	var rep api.ReportResult
	mustJSON(t, a, &rep, "verify", "report", pf)
	if rep.Slashed != "5000000000000000000" || rep.SlashTx == "" {
		t.Errorf("report of b's equivocation: %+v, want its 5 tokens (bonded and unbonding) slashed", rep)
	}
	mustJSON(t, a, &st, "wallet", "stake-info", infoB.Account)
	if st.Bonded != "0" || st.Unbonding != "0" {
		t.Errorf("b's stake after the slash: %+v", st)
	}
	select {
	case ev := <-events:
		if ev.Kind != "slash" || !strings.EqualFold(ev.Account, infoB.Account) || ev.Tx != rep.SlashTx {
			t.Errorf("settle event %+v, want the slash of %s in %s", ev, infoB.Account, rep.SlashTx)
		}
	case <-time.After(30 * time.Second):
		t.Error("settle_subscribe(events) announced no slash")
	}
	// The same proof again takes nothing more and says why.
	var again api.ReportResult
	mustJSON(t, a, &again, "verify", "report", pf)
	if again.Slashed != "" || again.NotSlashed == "" {
		t.Errorf("the same proof reported twice: %+v, want nothing slashed and why", again)
	}
}

// dialWS opens a WebSocket client to a repo's daemon, closed with the test.
func dialWS(t *testing.T, ctx context.Context, dir string) *client.Client {
	t.Helper()
	c, err := client.Dial(ctx, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawCID is the CID of a raw block holding s.
func rawCID(s string) string {
	h, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.Raw, h).String()
}
