package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/internal/units"
	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/scheduler"
)

// textOf is a page expression: the text of the first element sel matches,
// "" while there is none.
func textOf(sel string) string {
	return fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : "" })()`, sel)
}

// goTo switches the dashboard to another page the way its nav links do
// (the hash changes; the document stays).
func goTo(t *testing.T, tab context.Context, hash string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`location.hash = %q`, hash))); err != nil {
		t.Fatalf("open %s: %v", hash, err)
	}
}

// tokenText is how the CLI writes base units v: whole tokens and symbol.
func tokenText(t *testing.T, v string, decimals uint8, symbol string) string {
	t.Helper()
	n, ok := new(big.Int).SetString(v, 10)
	if !ok {
		t.Fatalf("%q is not a decimal amount of base units", v)
	}
	return units.Tokens(n, decimals) + " " + symbol
}

// A worker's operator opens the wallet of a daemon that settles on another
// daemon's embedded chain and sees what the JSON-RPC says: balances (after
// the chain's daemon sends it tokens and ether with the CLI), the stake it
// bonds and unbonds with the CLI, the chain, and buttons that hand the
// chain and token to a browser wallet. A paid job of the chain's daemon
// (one round, one tasklet) pays the worker: the live event log and the
// claims table show the root, the Claim button claims it, the worker page
// counts it as earned, and the coordinator's job page draws the escrow,
// the root's payouts and the closing.
func TestDashboardWallet(t *testing.T) {
	skipShort(t)
	chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	coordDir, coord, chain := chainDaemon(t)
	dir := initRepo(t)
	settleOn(t, dir, chain)
	// The worker leaves its pay for the page's Claim button.
	configSet(t, dir, "settle.claim_threshold", "1000000")
	d := startDaemon(t, dir, "--bootstrap", coord.tcpAddr(t))
	c := d.client(t)
	info, err := c.SettleInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dec, sym := info.Token.Decimals, info.Token.Symbol
	amount := func(v string) string { return tokenText(t, v, dec, sym) }

	tab := browser(t, ctx)
	login := loginURL(t, d)
	if err := chromedp.Do(tab, chromedp.Navigate(login), chromedp.WaitVisible(chromedp.CSS("#nav"))); err != nil {
		t.Fatalf("open %s: %v", login, err)
	}
	// A stand-in for a browser wallet (MetaMask injects window.ethereum):
	// it records what the page asks of it.
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.ethereum = { request: (a) => { (window.asked = window.asked || []).push(a); return Promise.resolve(null); } }; true`)); err != nil {
		t.Fatal(err)
	}
	goTo(t, tab, "#/wallet")
	evalUntil(t, tab, 30*time.Second, textOf("#wallet-token"), func(s string) bool { return s == amount("0") })

	// Tokens and ether from the chain's daemon, sent with the CLI.
	var sent []api.TxResult
	mustJSON(t, coordDir, &sent, "wallet", "send", info.Account, "--tokens", "5", "--ether", "0.5")
	bal, err := c.SettleBalance(ctx, "")
	if err != nil || bal.Token == "0" {
		t.Fatalf("settle_balance after the send: %+v, %v", bal, err)
	}
	evalUntil(t, tab, 30*time.Second, textOf("#wallet-token"), func(s string) bool { return s == amount(bal.Token) })
	eth := info.AddChain.NativeCurrency
	if got, want := evalUntil(t, tab, 5*time.Second, textOf("#wallet-ether"), func(s string) bool { return s != "" }), tokenText(t, bal.Ether, eth.Decimals, eth.Symbol); got != want {
		t.Errorf("ether on the page %q, settle_balance %q", got, want)
	}
	for sel, want := range map[string]string{"#wallet-account": info.Account, "#chain-id": fmt.Sprint(info.ChainID)} {
		if got, err := chromedp.Run(tab, chromedp.Evaluate[string](textOf(sel))); err != nil || got != want {
			t.Errorf("%s shows %q (%v), want %q", sel, got, err, want)
		}
	}

	// The page's amounts are the CLI's digits, for any amount and decimals.
	checkTokenFormatter(t, tab)

	// Add network / Add token pass settle_info's parameters as they are.
	for _, sel := range []string{"#add-chain", "#add-token"} {
		if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
			t.Fatalf("click %s: %v", sel, err)
		}
	}
	asked := evalUntil(t, tab, 10*time.Second, `JSON.stringify(window.asked || [])`, func(s string) bool { return strings.Count(s, "method") == 2 })
	var reqs []struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal([]byte(asked), &reqs); err != nil {
		t.Fatal(err)
	}
	wantReqs := map[string]any{"wallet_addEthereumChain": []any{info.AddChain}, "wallet_watchAsset": info.WatchAsset}
	for _, r := range reqs {
		if !sameJSON(t, r.Params, wantReqs[r.Method]) {
			t.Errorf("the page asked the wallet %s with %s, want %+v", r.Method, r.Params, wantReqs[r.Method])
		}
	}

	// Stake from the CLI: the page shows what settle_stakeOf says.
	var tx api.TxResult
	mustJSON(t, dir, &tx, "wallet", "stake", "3")
	mustJSON(t, dir, &tx, "wallet", "unstake", "1")
	st, err := c.SettleStakeOf(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	evalUntil(t, tab, 30*time.Second, textOf("#stake-bonded")+` + "|" + `+textOf("#stake-unbonding"),
		func(s string) bool { return s == amount(st.Bonded)+"|"+amount(st.Unbonding) })
	if s, err := chromedp.Run(tab, chromedp.Evaluate[string](textOf("#stake-unlock"))); err != nil || s == "" || s == "–" {
		t.Errorf("unlock time of 1 unbonding token: %q (%v)", s, err)
	}
	stakeFromThePage(t, ctx, tab, dir, c, st, dec, sym)

	// A paid job on the chain's daemon, submitted while the wallet is open.
	eventually(t, time.Minute, func() (bool, string) {
		var cs []node.Capability
		err := coord.client(t).Call(ctx, &cs, "peer_capabilities")
		return err == nil && len(cs) == 2, fmt.Sprintf("the coordinator knows %d capability records (%v)", len(cs), err)
	})
	cid := importMNIST(t, coord)
	var dsTok api.DatasetToken
	mustJSON(t, coordDir, &dsTok, "wallet", "register-dataset", cid)
	id := submit(t, coord, jobFile(t, cid, func(s string) string {
		s = strings.Replace(s, "rounds: 10", "rounds: 1", 1)
		s = strings.Replace(s, "inner_steps: 200", "inner_steps: 20", 1)
		return s + fmt.Sprintf("\nverify: {rate: 0, min_rate_new_peers: 0}\npayment: {budget: \"5\", price: \"0.5\", dataset_token: %s, royalty_bps: 500}\n", dsTok.TokenID)
	}))
	j := waitJob(t, coord, id, 3*time.Minute, func(j scheduler.Job) bool {
		return j.Status == scheduler.StatusDone && j.Settlement != nil && j.Settlement.Closing != nil
	})
	evalUntil(t, tab, time.Minute, `document.querySelectorAll("#wallet-events li[data-kind=batch]").length`, func(n int) bool { return n == 1 })
	claims, err := c.SettleClaims(ctx)
	if err != nil || len(claims) != 1 || claims[0].Job != id || claims[0].Claimable == "0" {
		t.Fatalf("settle_claims after the job's root: %+v, %v; want one claimable claim for %s", claims, err, id)
	}
	checkClaimRows(t, tab, claims, amount)

	// Claim: the page shows the amount; the log, the table and the balance follow.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#claim-button"))); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, tab, time.Minute, textOf("#claim-amount"), func(s string) bool { return s == amount(claims[0].Claimable) })
	evalUntil(t, tab, 30*time.Second, `document.querySelectorAll("#wallet-events li[data-kind=claim]").length`, func(n int) bool { return n == 1 })
	claims, err = c.SettleClaims(ctx)
	if err != nil || len(claims) != 1 || claims[0].Claimed != claims[0].Amount || claims[0].Claimable != "0" {
		t.Fatalf("settle_claims after the claim: %+v, %v; want it all claimed", claims, err)
	}
	checkClaimRows(t, tab, claims, amount)
	if bal, err = c.SettleBalance(ctx, ""); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, tab, 30*time.Second, textOf("#wallet-token"), func(s string) bool { return s == amount(bal.Token) })
	if s, err := chromedp.Run(tab, chromedp.Evaluate[string](textOf("#claim-result"))); err != nil || !strings.Contains(s, "0x") {
		t.Errorf("the claim's result %q (%v) names no transaction", s, err)
	}
	// Claiming again: the daemon's refusal, as it words it.
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS("#claim-button"))); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, tab, 30*time.Second, textOf("#claim-result"), func(s string) bool { return strings.HasPrefix(s, "nothing to claim") })

	// Worker: earned is what settle_claims says was claimed.
	goTo(t, tab, "#/worker")
	evalUntil(t, tab, 30*time.Second, textOf("#worker-earned"), func(s string) bool { return strings.HasPrefix(s, amount(claims[0].Claimed)+" claimed") })

	// The coordinator's job page: the payment card is job_show's settlement.
	s := j.Settlement
	coordLogin := loginURL(t, coord)
	if err := chromedp.Do(tab, chromedp.Navigate(coordLogin), chromedp.WaitVisible(chromedp.CSS("#nav"))); err != nil {
		t.Fatalf("open %s: %v", coordLogin, err)
	}
	goTo(t, tab, "#/job/"+id)
	evalUntil(t, tab, 30*time.Second, textOf("#pay-refund"), func(v string) bool { return v == amount(s.Closing.Refund) })
	want := map[string]string{
		"#pay-deposit": amount(s.Escrow.Deposit), "#pay-price": amount(s.Escrow.Price),
		"#pay-royalty": amount(s.Closing.Royalty), "#pay-model-token": s.Closing.ModelToken, "#pay-provenance": s.Closing.Provenance,
	}
	for sel, w := range want {
		if got, err := chromedp.Run(tab, chromedp.Evaluate[string](textOf(sel))); err != nil || got != w {
			t.Errorf("%s shows %q (%v), want %q", sel, got, err, w)
		}
	}
	bars, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#pay-roots .payout-root g[data-account]")].map(g => g.dataset.account + "=" + g.querySelector(".payout-amount").textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	var wantBars []string
	for _, b := range s.Batches {
		for _, p := range b.Payouts {
			runs := "runs"
			if p.Tasklets == 1 {
				runs = "run"
			}
			wantBars = append(wantBars, fmt.Sprintf("%s=%s · %d %s", p.Account, amount(p.Amount), p.Tasklets, runs))
		}
	}
	if len(s.Batches) != 1 || !reflect.DeepEqual(bars, wantBars) {
		t.Errorf("payout bars %q, want %q (%d roots)", bars, wantBars, len(s.Batches))
	}
}

// stakeFromThePage types amounts into the wallet's stake card and clicks
// its buttons: Stake and Unstake move the figures exactly as
// settle_stakeOf and settle_balance then say, Withdraw is offered only
// once the unbonding is over (and the daemon refuses it before too), and
// the daemon's own words about a bad amount reach the page unchanged. st
// is the stake the page shows now.
func stakeFromThePage(t *testing.T, ctx context.Context, tab context.Context, dir string, c *client.Client, st api.StakeInfo, dec uint8, sym string) {
	units1 := func(tokens string) *big.Int {
		v, err := units.ParseTokens(tokens, dec)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	plain := func(v string) string { n, _ := new(big.Int).SetString(v, 10); return units.Tokens(n, dec) }
	sum := func(a string, b *big.Int) string { n, _ := new(big.Int).SetString(a, 10); return n.Add(n, b).String() }
	bal, err := c.SettleBalance(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	act := func(button, amount string) {
		t.Helper()
		// Empty the field (chromedp.Clear resets the attribute, not what
		// was typed), then type into it key by key.
		if _, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#stake-amount").value = ""`)); err != nil {
			t.Fatal(err)
		}
		steps := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS(button))}
		if amount != "" {
			steps = append([]chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.CSS("#stake-amount"), amount)}, steps...)
		}
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Fatalf("type %q and click %s: %v", amount, button, err)
		}
	}
	// done waits for an action's result with what it changed, and checks
	// the cards show what the JSON-RPC says now.
	done := func(prefix, changes string) (api.StakeInfo, api.SettleBalance) {
		t.Helper()
		evalUntil(t, tab, time.Minute, textOf("#stake-result"), func(s string) bool {
			return strings.HasPrefix(s, prefix+" in 0x") && strings.Contains(s, "): ")
		})
		if got, err := chromedp.Run(tab, chromedp.Evaluate[string](textOf("#stake-changes"))); err != nil || got != changes {
			t.Errorf("after %q the page says %q changed (%v), want %q", prefix, got, err, changes)
		}
		if tx, err := chromedp.Run(tab, chromedp.Evaluate[string](textOf("#stake-tx"))); err != nil || len(tx) != 66 {
			t.Errorf("after %q the transaction shown is %q (%v)", prefix, tx, err)
		}
		now, err := c.SettleStakeOf(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.SettleBalance(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		shown, err := chromedp.Run(tab, chromedp.Evaluate[string](textOf("#stake-bonded")+` + "|" + `+textOf("#stake-unbonding")+` + "|" + `+textOf("#wallet-token")))
		if want := tokenText(t, now.Bonded, dec, sym) + "|" + tokenText(t, now.Unbonding, dec, sym) + "|" + tokenText(t, b.Token, dec, sym); err != nil || shown != want {
			t.Errorf("after %q the cards show %q (%v), the JSON-RPC says %q", prefix, shown, err, want)
		}
		return now, b
	}

	// Stake 1.5: bonded rises by it and the token balance falls by it.
	// While the call runs the card's buttons are off: a watcher notes them
	// as the result first changes ("staking…").
	watch := `window.seen = []; new MutationObserver(() => window.seen.push(["#stake-button", "#unstake-button", "#withdraw-button"]
		.map((s) => document.querySelector(s).disabled).join(","))).observe(document.querySelector("#stake-result"), {childList: true, characterData: true, subtree: true}); true`
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](watch)); err != nil {
		t.Fatal(err)
	}
	act("#stake-button", "1.5")
	st2, bal2 := done("staked "+tokenText(t, units1("1.5").String(), dec, sym),
		fmt.Sprintf(": bonded %s → %s %s, balance %s → %s %s", plain(st.Bonded), plain(sum(st.Bonded, units1("1.5"))), sym, plain(bal.Token), plain(sum(bal.Token, new(big.Int).Neg(units1("1.5")))), sym))
	if seen, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.seen`)); err != nil || len(seen) == 0 || seen[0] != "true,true,true" {
		t.Errorf("Stake, Unstake, Withdraw disabled while staking: %q (%v), want all true at first", seen, err)
	}
	if want := sum(st.Bonded, units1("1.5")); st2.Bonded != want {
		t.Errorf("settle_stakeOf bonded %s after staking 1.5 on %s, want %s", st2.Bonded, st.Bonded, want)
	}
	if want := sum(bal.Token, new(big.Int).Neg(units1("1.5"))); bal2.Token != want {
		t.Errorf("token balance %s after staking 1.5 from %s, want %s", bal2.Token, bal.Token, want)
	}

	// Unstake 0.5: it moves from bonded to unbonding.
	act("#unstake-button", "0.5")
	st3, _ := done("started unbonding "+tokenText(t, units1("0.5").String(), dec, sym),
		fmt.Sprintf(": bonded %s → %s %s, unbonding %s → %s %s", plain(st2.Bonded), plain(sum(st2.Bonded, new(big.Int).Neg(units1("0.5")))), sym, plain(st2.Unbonding), plain(sum(st2.Unbonding, units1("0.5"))), sym))
	if want := sum(st2.Unbonding, units1("0.5")); st3.Unbonding != want {
		t.Errorf("settle_stakeOf unbonding %s after unstaking 0.5 on %s, want %s", st3.Unbonding, st2.Unbonding, want)
	}

	// Withdraw before the unbonding delay: not offered, and the daemon
	// refuses it too, from the CLI and from a page whose clock runs ahead
	// (the button forced on, as such a page would have it).
	if off, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("#withdraw-button").disabled`)); err != nil || !off {
		t.Errorf("Withdraw enabled (%v) while %s unbonds until %d", err, st3.Unbonding, st3.UnlockAt)
	}
	if r := gs(t, dir, "wallet", "withdraw"); r.code == 0 || !strings.Contains(r.err, "StillUnbonding") {
		t.Errorf("wallet withdraw before the delay: exit %d, %s; want StillUnbonding", r.code, r.err)
	}
	_, err = c.SettleWithdraw(ctx)
	var refused *client.Error
	if !errors.As(err, &refused) || !strings.Contains(refused.Message, "StillUnbonding") {
		t.Fatalf("settle_withdraw before the delay: %v; want StillUnbonding", err)
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => { const b = document.querySelector("#withdraw-button"); b.disabled = false; b.click(); return true })()`)); err != nil {
		t.Fatal(err)
	}
	evalUntil(t, tab, 30*time.Second, textOf("#stake-result"), func(s string) bool { return s == refused.Message })
	// The page offers Withdraw exactly when something unbonds and its
	// unlock time has passed.
	got, err := chromedp.Run(tab, chromedp.Evaluate[[]bool](`[[{unbonding: "0", unlock_at: 0}, 100], [{unbonding: "1", unlock_at: 50}, 100], [{unbonding: "1", unlock_at: 100}, 100],
		[{unbonding: "1", unlock_at: 150}, 100], [{unbonding: "1"}, 100], [null, 100]].map(([s, now]) => canWithdraw(s, now))`))
	if want := []bool{false, true, true, false, false, false}; err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("canWithdraw on the table: %v (%v), want %v", got, err, want)
	}

	// Bad amounts: the daemon's error, word for word; nothing moves. An
	// empty one is caught in the page.
	for _, bad := range []string{"five", "-1"} {
		_, err := c.SettleStake(ctx, bad)
		var e *client.Error
		if !errors.As(err, &e) {
			t.Fatalf("settle_stake %q: %v, want the daemon to refuse it", bad, err)
		}
		act("#stake-button", bad)
		evalUntil(t, tab, 30*time.Second, textOf("#stake-result"), func(s string) bool { return s == e.Message })
	}
	act("#stake-button", "")
	evalUntil(t, tab, 10*time.Second, textOf("#stake-result"), func(s string) bool { return s == "Type an amount of tokens to stake first, e.g. 2.5." })
	if now, err := c.SettleStakeOf(ctx, ""); err != nil || now.Bonded != st3.Bonded || now.Unbonding != st3.Unbonding {
		t.Errorf("stake after the refused calls %+v (%v), want it as it was: %+v", now, err, st3)
	}
}

// checkClaimRows waits until the claims table shows claims row by row.
func checkClaimRows(t *testing.T, tab context.Context, claims []api.SettleClaim, amount func(string) string) {
	t.Helper()
	var want []string
	for _, c := range claims {
		want = append(want, strings.Join([]string{c.Job, amount(c.Amount), amount(c.Claimed), amount(c.Claimable), fmt.Sprint(c.Tasklets), fmt.Sprintf("%d · current", c.Batch)}, "|"))
	}
	evalUntil(t, tab, 30*time.Second, `[...document.querySelectorAll("#claims-table tbody tr")].map(r => [...r.cells].map(c => c.textContent).join("|")).join("\n")`,
		func(s string) bool { return s == strings.Join(want, "\n") })
}

// checkTokenFormatter compares the page's tokens() with the CLI's
// formatter on edge cases and random amounts of up to 40 digits.
func checkTokenFormatter(t *testing.T, tab context.Context) {
	t.Helper()
	type tc struct {
		V string `json:"v"`
		D uint8  `json:"d"`
	}
	cases := []tc{{"0", 18}, {"1", 18}, {"1000000000000000000", 18}, {"1000000000000000001", 18}, {"-2500000000000000000", 18},
		{"123", 0}, {"100", 2}, {"5", 6}, {"999999999999999999999999999999", 18}}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		digits := make([]byte, 1+rng.IntN(40))
		for i := range digits {
			digits[i] = byte('0' + rng.IntN(10))
		}
		v, _ := new(big.Int).SetString(string(digits), 10)
		cases = append(cases, tc{v.String(), uint8(rng.IntN(19))})
	}
	in, _ := json.Marshal(cases)
	got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](fmt.Sprintf(`%s.map(c => tokens(c.v, c.d, ""))`, in)))
	if err != nil || len(got) != len(cases) {
		t.Fatalf("tokens() in the page: %v, %v", got, err)
	}
	for i, c := range cases {
		v, _ := new(big.Int).SetString(c.V, 10)
		if want := units.Tokens(v, c.D); got[i] != want {
			t.Errorf("tokens(%s, %d) = %q in the page, the CLI writes %q", c.V, c.D, got[i], want)
		}
	}
}

// sameJSON reports whether raw and v encode the same JSON value.
func sameJSON(t *testing.T, raw json.RawMessage, v any) bool {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var x, y any
	return json.Unmarshal(raw, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}
