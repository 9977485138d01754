package embedded_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/gridswarm/gridswarm/settle"
	"github.com/gridswarm/gridswarm/settle/embedded"
	"github.com/gridswarm/gridswarm/settle/merkle"
	"github.com/gridswarm/gridswarm/settle/rpcchain"
)

// The test binary doubles as the process that hosts the chain, so the
// crash test can kill it with SIGKILL.
const childEnv = "GRIDSWARM_TEST_CHAIN_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		os.Exit(runChild(dir))
	}
	os.Exit(m.Run())
}

// runChild opens the chain, prints its URL (and what opening it cost) and
// serves until its stdin closes (the parent ends it) or a minute passes
// (nothing waits forever). On the way out it prints its peak memory.
func runChild(dir string) int {
	rssBefore := procStatusKB("VmRSS")
	start := time.Now()
	c, err := embedded.Open(embedded.Config{Dir: dir, Alloc: alloc()})
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	fmt.Println("READY", c.HTTPURL(), time.Since(start).Milliseconds(), rssBefore, procStatusKB("VmRSS"))
	done := make(chan struct{})
	go func() { bufio.NewReader(os.Stdin).ReadString('\n'); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
	}
	fmt.Println("PEAK", procStatusKB("VmHWM"), procStatusKB("VmRSS"))
	if err := c.Close(); err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	return 0
}

// procStatusKB reads a "Name: N kB" line of /proc/self/status (0 where
// there is none, as off Linux).
func procStatusKB(name string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), &kb)
			return kb
		}
	}
	return 0
}

// keys are fixed test accounts: 0 deploys and coordinates, 1 submits,
// 2 and 3 work.
func keys() []*ecdsa.PrivateKey {
	out := make([]*ecdsa.PrivateKey, 4)
	for i := range out {
		k, err := crypto.ToECDSA(crypto.Keccak256([]byte{byte(i), 'e', 'm', 'b'}))
		if err != nil {
			panic(err)
		}
		out[i] = k
	}
	return out
}

func alloc() types.GenesisAlloc {
	a := types.GenesisAlloc{}
	for _, k := range keys() {
		a[crypto.PubkeyToAddress(k.PublicKey)] = types.Account{Balance: new(big.Int).Exp(big.NewInt(10), big.NewInt(20), nil)}
	}
	return a
}

type child struct {
	cmd   *exec.Cmd
	stdin interface{ Close() error }
	url   string
	ready []string    // READY url startMs rssBeforeKB rssAfterKB
	lines chan string // later PEAK and ERROR lines
}

func startChild(t *testing.T, ctx context.Context, dir string) *child {
	t.Helper()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 4)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			if f := strings.Fields(s.Text()); len(f) > 0 && (f[0] == "READY" || f[0] == "ERROR" || f[0] == "PEAK") {
				lines <- s.Text()
			}
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		if !ok || !strings.HasPrefix(line, "READY ") {
			t.Fatalf("chain process did not start: %q", line)
		}
		f := strings.Fields(line)
		return &child{cmd: cmd, stdin: stdin, url: f[1], ready: f, lines: lines}
	case <-ctx.Done():
		t.Fatal("chain process did not start in time")
	}
	return nil
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait() // reports the kill
}

// stop ends the chain process cleanly and returns its last PEAK line.
func (c *child) stop(t *testing.T) string {
	t.Helper()
	c.stdin.Close()
	var peak string
	for line := range c.lines {
		if strings.HasPrefix(line, "PEAK ") {
			peak = line
		} else {
			t.Errorf("chain process: %s", line)
		}
	}
	if err := c.cmd.Wait(); err != nil {
		t.Errorf("chain process exited: %v", err)
	}
	return peak
}

func dial(t *testing.T, ctx context.Context, url string) *rpcchain.Chain {
	t.Helper()
	c, err := rpcchain.Dial(ctx, rpcchain.Config{URL: url, ChainID: settle.DefaultChainID, PollInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func clients(chain settle.Chain, a settle.Addresses) []*settle.Client {
	var out []*settle.Client
	for _, k := range keys() {
		out = append(out, settle.NewClient(chain, bind.NewKeyedTransactor(k, chain.ChainID()), a))
	}
	return out
}

// The chain runs in its own process. Through the rpc backend the test
// deploys the contracts, escrows a job, posts a root and claims for one
// worker; then it kills the process with SIGKILL, restarts it on the same
// directory and checks that every block is still there with the same hash,
// that the state is intact, that the pending claim completes, that the
// first cannot be paid twice, and that a standard client reads the
// balances and events.
func TestEmbeddedSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chain processes; skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()

	proc := startChild(t, ctx, dir)
	chain := dial(t, ctx, proc.url)
	addrs, err := settle.Deploy(ctx, chain, bind.NewKeyedTransactor(keys()[0], chain.ChainID()), settle.DefaultDeployParams())
	if err != nil {
		t.Fatal(err)
	}
	cs := clients(chain, addrs)
	coord, submitter, w1, w2 := cs[0], cs[1], cs[2], cs[3]
	if _, err := coord.Mint(ctx, submitter.From(), big.NewInt(1000)); err != nil {
		t.Fatal(err)
	}
	job, _, err := submitter.Deposit(ctx, settle.Deposit{Amount: big.NewInt(1000), Deadline: time.Now().Add(time.Hour), Coordinator: coord.From()})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := merkle.Payouts([]merkle.Payout{{Worker: w1.From(), Amount: big.NewInt(300)}, {Worker: w2.From(), Amount: big.NewInt(200)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := coord.PostRoot(ctx, job, tree, [32]byte{9}); err != nil {
		t.Fatal(err)
	}
	a1, p1, _ := tree.ProofFor(w1.From())
	rec, err := w1.Claim(ctx, job, w1.From(), a1, p1)
	if err != nil {
		t.Fatal(err)
	}
	// Twenty more transactions, each confirmed, then kill -9 at once: every
	// block a client was told about must come back with the same hash.
	confirmed := map[uint64]common.Hash{rec.BlockNumber.Uint64(): rec.BlockHash}
	for i := 0; i < 20; i++ {
		r, err := coord.Mint(ctx, coord.From(), big.NewInt(1))
		if err != nil {
			t.Fatal(err)
		}
		confirmed[r.BlockNumber.Uint64()] = r.BlockHash
	}
	proc.kill(t) // no shutdown, no flush
	chain.Close()

	proc = startChild(t, ctx, dir)
	defer proc.stop(t)
	chain = dial(t, ctx, proc.url)
	head, err := chain.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n, hash := range confirmed {
		if head < n {
			t.Fatalf("after kill -9 the head is block %d; block %d was confirmed before", head, n)
		}
		h, err := chain.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
		if err != nil || h.Hash() != hash {
			t.Fatalf("block %d after restart: %v; want hash %s", n, err, hash)
		}
	}
	if err := addrs.Verify(ctx, chain); err != nil {
		t.Fatal(err)
	}
	cs = clients(chain, addrs)
	coord, w1, w2 = cs[0], cs[2], cs[3]
	if _, err := w1.Claim(ctx, job, w1.From(), a1, p1); err == nil {
		t.Error("the claim made before the kill was paid again")
	}
	a2, p2, _ := tree.ProofFor(w2.From())
	if _, err := w2.Claim(ctx, job, w2.From(), a2, p2); err != nil {
		t.Fatalf("pending claim after restart: %v", err)
	}

	// A standard client, not our bindings: balances by eth_call and the
	// token's Transfer events by eth_getLogs.
	std, err := ethclient.DialContext(ctx, proc.url)
	if err != nil {
		t.Fatal(err)
	}
	defer std.Close()
	for _, want := range []struct {
		who    common.Address
		amount int64
	}{{w1.From(), 300}, {w2.From(), 200}, {addrs.Escrow, 500}} {
		data := append(crypto.Keccak256([]byte("balanceOf(address)"))[:4], common.LeftPadBytes(want.who.Bytes(), 32)...)
		out, err := std.CallContract(ctx, ethereum.CallMsg{To: &addrs.Token, Data: data}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := new(big.Int).SetBytes(out); got.Int64() != want.amount {
			t.Errorf("token balance of %s: got %v, want %d", want.who, got, want.amount)
		}
	}
	transfer := crypto.Keccak256Hash([]byte("Transfer(address,address,uint256)"))
	logs, err := std.FilterLogs(ctx, ethereum.FilterQuery{
		Addresses: []common.Address{addrs.Token},
		Topics:    [][]common.Hash{{transfer}, {common.BytesToHash(addrs.Escrow.Bytes())}},
		FromBlock: big.NewInt(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	var paid []string
	for _, l := range logs {
		paid = append(paid, fmt.Sprintf("%s:%v", common.BytesToAddress(l.Topics[2].Bytes()), new(big.Int).SetBytes(l.Data)))
	}
	want := []string{fmt.Sprintf("%s:300", w1.From()), fmt.Sprintf("%s:200", w2.From())}
	if strings.Join(paid, ",") != strings.Join(want, ",") {
		t.Errorf("Transfer events from the escrow: got %v, want %v", paid, want)
	}
}

// Over HTTP the chain serves eth, net and web3 and refuses every namespace
// that controls the node; WebSocket works on the same port.
func TestEmbeddedServesOnlyWalletNamespaces(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := embedded.Open(embedded.Config{Dir: t.TempDir(), Alloc: alloc()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.HasPrefix(c.HTTPURL(), "http://127.0.0.1:") || !strings.HasPrefix(c.WSURL(), "ws://127.0.0.1:") {
		t.Fatalf("endpoints %s %s are not on 127.0.0.1", c.HTTPURL(), c.WSURL())
	}
	rc, err := rpc.DialContext(ctx, c.HTTPURL())
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	for _, m := range []string{"eth_chainId", "net_version", "web3_clientVersion"} {
		var out any
		if err := rc.CallContext(ctx, &out, m); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
	for _, m := range []string{"admin_nodeInfo", "debug_gcStats", "dev_setFeeRecipient", "testing_buildBlockV1", "txpool_content", "miner_setExtra", "personal_listAccounts", "engine_exchangeCapabilities"} {
		var out any
		if err := rc.CallContext(ctx, &out, m); err == nil {
			t.Errorf("%s is served over HTTP", m)
		}
	}
	ws, err := ethclient.DialContext(ctx, c.WSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	id, err := ws.ChainID(ctx)
	if err != nil || id.Uint64() != settle.DefaultChainID {
		t.Errorf("chain ID over WebSocket: %v, %v", id, err)
	}

	// A transaction is mined at once and Confirm returns once it is durable.
	k := keys()[0]
	to := crypto.PubkeyToAddress(keys()[1].PublicKey)
	nonce, _ := c.PendingNonceAt(ctx, crypto.PubkeyToAddress(k.PublicKey))
	tip, _ := c.SuggestGasTipCap(ctx)
	tx := types.MustSignNewTx(k, types.LatestSignerForChainID(c.ChainID()), &types.DynamicFeeTx{
		ChainID: c.ChainID(), Nonce: nonce, GasTipCap: tip, GasFeeCap: big.NewInt(10_000_000_000), Gas: 21000, To: &to, Value: big.NewInt(1),
	})
	if err := c.SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	rec, err := c.Confirm(ctx, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if rec.BlockNumber.Uint64() > c.Durable() {
		t.Errorf("Confirm returned block %v before it was durable (%d)", rec.BlockNumber, c.Durable())
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	if _, err := embedded.Open(embedded.Config{}); err == nil {
		t.Error("Open without a directory: got no error")
	}
	dir := t.TempDir()
	c, err := embedded.Open(embedded.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := embedded.Open(embedded.Config{Dir: dir, ChainID: 5}); err == nil || !strings.Contains(err.Error(), "configuration says 5") {
		t.Errorf("reopen with another chain ID: got %v", err)
	}
	c, err = embedded.Open(embedded.Config{Dir: dir})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	c.Close()
}

// What the embedded chain adds to a daemon: time to open it, resident
// memory right after, and the peak after a hundred transactions, measured
// in a process of its own (recorded in docs/benchmarks.md; nothing here is
// asserted but that the figures were read).
//
//	go test ./settle/embedded -run TestEmbeddedFootprint -v
func TestEmbeddedFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a chain process; skipped in -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	proc := startChild(t, ctx, dir)
	chain := dial(t, ctx, proc.url)
	addrs, err := settle.Deploy(ctx, chain, bind.NewKeyedTransactor(keys()[0], chain.ChainID()), settle.DefaultDeployParams())
	if err != nil {
		t.Fatal(err)
	}
	coord := clients(chain, addrs)[0]
	start := time.Now()
	const txs = 100
	for i := 0; i < txs; i++ {
		if _, err := coord.Mint(ctx, coord.From(), big.NewInt(1)); err != nil {
			t.Fatal(err)
		}
	}
	perTx := time.Since(start) / txs
	peak := strings.Fields(proc.stop(t))
	if len(proc.ready) != 5 || len(peak) != 3 {
		t.Fatalf("footprint lines: %q, %q", proc.ready, peak)
	}
	var disk int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				disk += info.Size()
			}
		}
		return nil
	})
	t.Logf("open %s ms; RSS %s kB before, %s kB after open; peak %s kB after %d transactions (%v each, sent and confirmed over HTTP); %.1f MB on disk",
		proc.ready[2], proc.ready[3], proc.ready[4], peak[1], txs, perTx, float64(disk)/1e6)
}

// The rpc backend's Confirm waits for its number of confirmations: with 3,
// a transaction's receipt comes back only once two more blocks are on top.
func TestRPCConfirmWaitsForConfirmations(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := embedded.Open(embedded.Config{Dir: t.TempDir(), Alloc: alloc()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	remote, err := rpcchain.Dial(ctx, rpcchain.Config{URL: c.WSURL(), ChainID: settle.DefaultChainID, Confirmations: 3, PollInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer remote.Close()
	k := keys()[0]
	from := crypto.PubkeyToAddress(k.PublicKey)
	send := func() (*types.Transaction, *types.Receipt) {
		t.Helper()
		nonce, err := c.PendingNonceAt(ctx, from)
		if err != nil {
			t.Fatal(err)
		}
		tip, err := c.SuggestGasTipCap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tx := types.MustSignNewTx(k, types.LatestSignerForChainID(c.ChainID()), &types.DynamicFeeTx{
			ChainID: c.ChainID(), Nonce: nonce, GasTipCap: tip, GasFeeCap: big.NewInt(10_000_000_000), Gas: 21000, To: &from,
		})
		if err := c.SendTransaction(ctx, tx); err != nil {
			t.Fatal(err)
		}
		rec, err := c.Confirm(ctx, tx.Hash()) // mined and durable
		if err != nil {
			t.Fatal(err)
		}
		return tx, rec
	}
	first, rec := send()
	want := rec.BlockNumber.Uint64() + 2 // the head at 3 confirmations
	type result struct {
		rec *types.Receipt
		err error
	}
	done := make(chan result, 1)
	go func() {
		rec, err := remote.Confirm(ctx, first.Hash())
		done <- result{rec, err}
	}()
	// Until the head reaches want, Confirm must not return. Blocks are
	// counted, not sends: the simulated beacon may seal an empty block of
	// its own after one with a transaction. The head only grows, so a head
	// read after Confirm returned still below want proves it returned
	// early. (The check is one-sided: it may simply not have polled yet.)
	var r result
	returned := false
	for !returned {
		select {
		case r = <-done:
			returned = true
			if head, _ := c.BlockNumber(ctx); head < want {
				t.Fatalf("Confirm returned at head %d, before block %d had 2 blocks on top: %v, %v", head, want-2, r.rec, r.err)
			}
		default:
			if head, _ := c.BlockNumber(ctx); head >= want {
				r, returned = <-done, true // it must return now
			}
			send()
		}
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	head, _ := c.BlockNumber(ctx)
	if head < r.rec.BlockNumber.Uint64()+2 {
		t.Errorf("confirmed at head %d, block %v: fewer than 3 confirmations", head, r.rec.BlockNumber)
	}
}

// A transaction whose tip the block producer would skip is refused when it
// is sent, instead of sitting in the pool while empty blocks are sealed.
func TestUnderpricedTransactionRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := embedded.Open(embedded.Config{Dir: t.TempDir(), Alloc: alloc()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	k := keys()[0]
	from := crypto.PubkeyToAddress(k.PublicKey)
	head, _ := c.BlockNumber(ctx)
	tx := types.MustSignNewTx(k, types.LatestSignerForChainID(c.ChainID()), &types.DynamicFeeTx{
		ChainID: c.ChainID(), Nonce: 0, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(10_000_000_000), Gas: 21000, To: &from,
	})
	if err := c.SendTransaction(ctx, tx); err == nil || !strings.Contains(err.Error(), "below minimum") {
		t.Fatalf("1 wei tip: got %v, want a refusal for a tip below the minimum", err)
	}
	if now, _ := c.BlockNumber(ctx); now != head {
		t.Errorf("blocks were sealed for a refused transaction: head %d, was %d", now, head)
	}
}
