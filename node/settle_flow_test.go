package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/settle/merkle"
)

// A payout notice is only believed when its payouts rebuild to its root,
// on this node's chain and escrow.
func TestPayoutNoticeTree(t *testing.T) {
	escrow := common.HexToAddress("0x00000000000000000000000000000000000000e5")
	payouts := []scheduler.Payout{
		{Account: common.Address{1}.Hex(), Amount: "500", Tasklets: 1},
		{Account: common.Address{2}.Hex(), Amount: "1500", Tasklets: 3},
	}
	ps, _ := merklePayouts(payouts)
	tree, err := merkle.Payouts(ps)
	if err != nil {
		t.Fatal(err)
	}
	good := PayoutNotice{ChainID: 7, Escrow: escrow.Hex(), EscrowID: "1", Job: "j", Batch: 1, Root: tree.Root().Hex(), Payouts: payouts}
	if got, err := good.tree(7, escrow); err != nil || got.Root() != tree.Root() {
		t.Fatalf("a true notice: %v", err)
	}
	inflated := good
	inflated.Payouts = []scheduler.Payout{payouts[0], {Account: payouts[1].Account, Amount: "9999"}}
	otherChain := good
	otherChain.ChainID = 8
	empty := good
	empty.Payouts = nil
	junk := good
	junk.Payouts = []scheduler.Payout{{Account: "me", Amount: "1"}}
	for name, n := range map[string]PayoutNotice{"inflated": inflated, "other chain": otherChain, "empty": empty, "junk": junk} {
		if _, err := n.tree(7, escrow); err == nil {
			t.Errorf("%s notice believed", name)
		}
	}
}

// The notices that pay a node survive its restart; a corrupt file is an
// error that says what to do, and an older notice never replaces a newer.
func TestClaimsPersist(t *testing.T) {
	path := filepath.Join(t.TempDir(), claimsFile)
	c, err := loadClaims(path)
	if err != nil || len(c.list()) != 0 {
		t.Fatalf("no file: %v, %v", c.list(), err)
	}
	n2 := PayoutNotice{EscrowID: "7", Job: "j", Batch: 2, Root: "0x02"}
	if added, err := c.add(n2); !added || err != nil {
		t.Fatalf("add: %v, %v", added, err)
	}
	if added, _ := c.add(PayoutNotice{EscrowID: "7", Batch: 1, Root: "0x01"}); added {
		t.Error("an older notice replaced a newer one")
	}
	again, err := loadClaims(path)
	if err != nil || len(again.list()) != 1 || again.list()[0].Root != "0x02" {
		t.Fatalf("after a restart: %+v, %v; want the batch-2 notice", again.list(), err)
	}
	select {
	case <-again.wake:
	default:
		t.Error("a restarted claimer is not woken to claim what it holds")
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadClaims(path); err == nil || !strings.Contains(err.Error(), "move it away") {
		t.Errorf("a corrupt claims.json: %v, want an error saying what to do", err)
	}
}
