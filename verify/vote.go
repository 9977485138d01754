package verify

import (
	"fmt"
	"strings"
)

// Outcome is what a vote decided.
type Outcome string

// The outcomes of Decide.
const (
	// Verified: every output agrees; the tasklet's result is accepted.
	Verified Outcome = "verified"
	// OddOneOut: two outputs agree and the third differs from both: the
	// agreeing result is accepted and the odd peer loses the vote.
	OddOneOut Outcome = "odd-one-out"
	// NeedThird: two outputs differ; a third replica on a high-trust peer
	// (PickThird) decides. Nobody wins or loses yet.
	NeedThird Outcome = "need-third"
	// ExecutorFault: no two of three outputs agree (or agreement is not
	// transitive within the tolerance): the tasklet is dropped and
	// reported; nobody loses a vote, since the executor itself is suspect.
	ExecutorFault Outcome = "executor-fault"
	// Invalid: Decide was given fewer than two or more than three outputs.
	Invalid Outcome = "invalid"
)

// Verdict is the decision of a vote, with reasons a user can read.
type Verdict struct {
	Outcome Outcome
	// Accepted is the index of an output whose result joins the round
	// (any of the winners); -1 when none does.
	Accepted int
	Winners  []string // peers on the agreeing side: Record.Verified
	Losers   []string // peers that lost: Record.LostVote
	Reasons  []string
}

// Decide votes on two or three outputs of one tasklet, compared by cmp:
//
//	2 agree                → Verified, both win
//	2 differ               → NeedThird
//	3 agree                → Verified, all win
//	2 agree, 1 differs     → OddOneOut, the odd one loses
//	no two agree, or A~B, B~C but A≁C (possible within a tolerance)
//	                       → ExecutorFault, tasklet dropped, nobody loses
func Decide(cmp Comparator, outputs []Output) Verdict {
	n := len(outputs)
	if n < 2 || n > 3 {
		return Verdict{Outcome: Invalid, Accepted: -1, Reasons: []string{fmt.Sprintf("a vote needs 2 or 3 outputs, got %d", n)}}
	}
	var c [3][3]Comparison
	for i := range n {
		for j := i + 1; j < n; j++ {
			c[i][j] = cmp.Compare(outputs[i], outputs[j])
			c[j][i] = c[i][j]
		}
	}
	peers := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, outputs[i].Peer)
		}
		return out
	}
	if n == 2 {
		if c[0][1].Agree {
			return Verdict{Outcome: Verified, Accepted: 0, Winners: peers(0, 1),
				Reasons: []string{fmt.Sprintf("peers %s and %s agree%s", outputs[0].Peer, outputs[1].Peer, detail(c[0][1]))}}
		}
		return Verdict{Outcome: NeedThird, Accepted: -1,
			Reasons: []string{fmt.Sprintf("peers %s and %s disagree (%s): a third replica decides", outputs[0].Peer, outputs[1].Peer, c[0][1].Reason)}}
	}
	agree := 0
	for i := range 3 {
		for j := i + 1; j < 3; j++ {
			if c[i][j].Agree {
				agree++
			}
		}
	}
	switch agree {
	case 3:
		return Verdict{Outcome: Verified, Accepted: 0, Winners: peers(0, 1, 2),
			Reasons: []string{fmt.Sprintf("peers %s agree", strings.Join(peers(0, 1, 2), ", "))}}
	case 1:
		for k := range 3 {
			i, j := (k+1)%3, (k+2)%3
			if !c[i][j].Agree {
				continue
			}
			// k is the odd one: it differs from both i and j.
			return Verdict{Outcome: OddOneOut, Accepted: i, Winners: peers(i, j), Losers: peers(k),
				Reasons: []string{fmt.Sprintf("peer %s's output differed from two agreeing replicas on %s and %s (%s; %s)",
					outputs[k].Peer, outputs[i].Peer, outputs[j].Peer, c[k][i].Reason, c[k][j].Reason)}}
		}
	case 0:
		return Verdict{Outcome: ExecutorFault, Accepted: -1,
			Reasons: []string{fmt.Sprintf("all three outputs differ (%s; %s; %s): the tasklet is dropped as an executor fault",
				c[0][1].Reason, c[0][2].Reason, c[1][2].Reason)}}
	}
	// Two pairs agree but not the third: the tolerance is not transitive.
	return Verdict{Outcome: ExecutorFault, Accepted: -1,
		Reasons: []string{"outputs agree pairwise but not all together within the tolerance: the tasklet is dropped as an executor fault"}}
}

func detail(c Comparison) string {
	if c.RelL2 == 0 && c.LossDiff == 0 {
		return ""
	}
	return fmt.Sprintf(" (relative L2 %.3g, loss difference %.3g)", c.RelL2, c.LossDiff)
}
