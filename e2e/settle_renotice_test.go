package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/scheduler"
)

// A worker whose daemon never got its job's payout notice (killed, and
// its record of the notice gone with it: as if it had been down when the
// root was posted) is paid all the same: when it comes back and joins the
// notice topic, the coordinator gossips the job's latest notice again, and
// the worker claims by itself.
func TestWorkerThatMissedTheNoticeIsPaid(t *testing.T) {
	skipShort(t)
	coordDir, coord, chain := chainDaemon(t)
	dir := initRepo(t)
	settleOn(t, dir, chain)
	// While the job runs the worker holds its pay, so that the test knows
	// the claim that follows came after the restart.
	configSet(t, dir, "settle.claim_threshold", "1000")
	w := startDaemon(t, dir, "--bootstrap", coord.tcpAddr(t))
	var addr map[string]string
	mustJSON(t, dir, &addr, "wallet", "address")
	var sent []api.TxResult
	mustJSON(t, coordDir, &sent, "wallet", "send", addr["address"], "--ether", "0.5") // gas for the claim
	waitCapabilities(t, coord, 2)

	cid := importMNIST(t, coord)
	id := submit(t, coord, jobFile(t, cid, func(s string) string {
		s = strings.Replace(s, "rounds: 10", "rounds: 1", 1)
		s = strings.Replace(s, "tasklets_per_round: auto", "tasklets_per_round: 1", 1)
		s = strings.Replace(s, "inner_steps: 200", "inner_steps: 10", 1)
		return s + "\nverify: {rate: 0, min_rate_new_peers: 0}\npayment: {budget: \"2\", price: \"0.5\"}\n"
	}))
	j := waitJob(t, coord, id, 3*time.Minute, func(j scheduler.Job) bool {
		return j.Status != scheduler.StatusRunning && j.Status != scheduler.StatusSubmitted &&
			(j.Status != scheduler.StatusDone || j.Settlement != nil && j.Settlement.Closing != nil)
	})
	if j.Status != scheduler.StatusDone || len(j.Settlement.Batches) == 0 {
		t.Fatalf("paid job ended %s (%s) with settlement %+v", j.Status, j.Error, j.Settlement)
	}
	last := j.Settlement.Batches[len(j.Settlement.Batches)-1]
	var owed string
	for _, p := range last.Payouts {
		if strings.EqualFold(p.Account, addr["address"]) {
			owed = p.Amount
		}
	}
	if owed == "" || owed == "0" {
		t.Fatalf("the job's last root pays %+v, nothing to the worker %s", last.Payouts, addr["address"])
	}

	// The worker heard of the root, then loses it.
	eventually(t, time.Minute, func() (bool, string) {
		var cs []api.SettleClaim
		mustJSON(t, dir, &cs, "wallet", "claims")
		return len(cs) == 1 && cs[0].Amount == owed, fmt.Sprintf("worker claims %+v", cs)
	})
	w.kill9()
	if err := os.Remove(filepath.Join(dir, "claims.json")); err != nil {
		t.Fatalf("the worker kept no notice on disk: %v", err)
	}
	configSet(t, dir, "settle.claim_threshold", "0")
	startDaemon(t, dir, "--bootstrap", coord.tcpAddr(t))

	// Back: told again, it claims everything it is owed.
	eventually(t, 2*time.Minute, func() (bool, string) {
		var cs []api.SettleClaim
		mustJSON(t, dir, &cs, "wallet", "claims")
		return len(cs) == 1 && cs[0].Claimed == owed, fmt.Sprintf("worker claims %+v, want %s claimed", cs, owed)
	})
	var bal api.SettleBalance
	mustJSON(t, dir, &bal, "wallet", "balance")
	if bal.Token != owed {
		t.Errorf("the worker's token balance is %s, want the %s its root pays", bal.Token, owed)
	}
	if !strings.Contains(coord.log.String(), "gossiped a payout notice again") {
		t.Errorf("the coordinator's log does not say it re-sent the notice:\n%s", coord.log.String())
	}
}
