package node

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/verify"
)

// VerifyService is the verify_ namespace: this node's coordinator's spot
// checks and what they taught it about each peer.
type VerifyService struct{ n *Node }

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func trustRecord(r verify.Record, now time.Time) api.TrustRecord {
	banned, why := r.Banned(now)
	out := api.TrustRecord{
		Peer: r.Peer, Class: string(r.Class), Run: r.Run, Checked: r.Checked, Verified: r.Passed, Lost: r.Lost,
		Consecutive: r.Consecutive, Agreement: r.Agreement(), Strikes: r.Strikes, Offences: r.Offences,
		CheckRate: verify.Probability(r, verify.Rates{Rate: jobspec.DefaultVerifyRate, MinRateNewPeers: jobspec.DefaultNewPeers}),
		FirstSeen: timeOrNil(r.FirstSeen), LastLoss: timeOrNil(r.LastLoss), Banned: banned,
	}
	if banned {
		out.BanReason, out.BannedUntil = why, timeOrNil(r.BannedUntil)
	}
	return out
}

// reputation sums a peer's records (those of its payout account included)
// for the peer table.
func (n *Node) reputation(id, account string) *api.Reputation {
	recs := n.trust.Peer(id)
	if k := accountRecordKey(account); k != "" {
		recs = append(recs, n.trust.Peer(k)...)
	}
	if len(recs) == 0 {
		return nil
	}
	var rep api.Reputation
	var first time.Time
	for _, r := range recs {
		rep.Run += r.Run
		rep.Checked += r.Checked
		rep.Verified += r.Passed
		rep.Lost += r.Lost
		if !r.FirstSeen.IsZero() && (first.IsZero() || r.FirstSeen.Before(first)) {
			first = r.FirstSeen
		}
	}
	rep.Agreement = float64(rep.Verified+1) / float64(rep.Checked+2)
	rep.FirstSeen = timeOrNil(first)
	rep.Banned, rep.BanReason = n.trust.BannedPeer(id, account, time.Now())
	return &rep
}

// accountRecordKey is the pseudo-peer an account's own record is kept
// under (scheduler keeps equivocation bans there).
func accountRecordKey(account string) string {
	if !common.IsHexAddress(account) {
		return ""
	}
	return "account:" + common.HexToAddress(account).Hex()
}

// accountOf is the payout account a peer advertises, when known.
func (n *Node) accountOf(id string) string {
	pid, err := peer.Decode(id)
	if err != nil {
		return ""
	}
	if c := n.swarm.Caps(pid); c != nil {
		return c.Account
	}
	return ""
}

// Peer returns what this coordinator knows of one peer (a peer ID, or a
// payout account 0x…) from spot checks.
func (s *VerifyService) Peer(id string) (api.VerifyPeer, error) {
	id = strings.TrimSpace(id)
	now := time.Now()
	if common.IsHexAddress(id) {
		k := accountRecordKey(id)
		out := api.VerifyPeer{Peer: k, Account: common.HexToAddress(id).Hex(), Records: []api.TrustRecord{}}
		for _, r := range s.n.trust.Peer(k) {
			out.Records = append(out.Records, trustRecord(r, now))
		}
		out.Banned, out.BanReason = s.n.trust.Banned(k, now)
		return out, nil
	}
	if _, err := peer.Decode(id); err != nil {
		return api.VerifyPeer{}, fmt.Errorf("%q is neither a peer ID nor a payout account (0x…): %v", id, err)
	}
	out := api.VerifyPeer{Peer: id, Account: s.n.accountOf(id), Records: []api.TrustRecord{}}
	recs := s.n.trust.Peer(id)
	if k := accountRecordKey(out.Account); k != "" {
		recs = append(recs, s.n.trust.Peer(k)...)
	}
	for _, r := range recs {
		out.Records = append(out.Records, trustRecord(r, now))
	}
	out.Banned, out.BanReason = s.n.trust.BannedPeer(id, out.Account, now)
	return out, nil
}

// Peers returns every record this coordinator keeps, by peer then class.
func (s *VerifyService) Peers() []api.TrustRecord {
	now := time.Now()
	out := []api.TrustRecord{}
	for _, r := range s.n.trust.Records() {
		out = append(out, trustRecord(r, now))
	}
	return out
}

// Job returns a job's spot checks and a per-worker tally.
func (s *VerifyService) Job(id string) (api.VerifyJob, error) {
	j, err := s.n.coord.Get(id)
	if err != nil {
		return api.VerifyJob{}, err
	}
	return verifyJob(j, func(p string) bool { b, _ := s.n.trust.BannedPeer(p, s.n.accountOf(p), time.Now()); return b }), nil
}

// verifyJob summarises a job's spot checks; banned says whether a peer is
// banned now.
func verifyJob(j *scheduler.Job, banned func(string) bool) api.VerifyJob {
	out := api.VerifyJob{Job: j.ID, Checks: []api.SpotCheck{}, Workers: []api.SpotTally{}}
	tally := map[string]*api.SpotTally{}
	get := func(p string) *api.SpotTally {
		if tally[p] == nil {
			tally[p] = &api.SpotTally{Peer: p}
		}
		return tally[p]
	}
	for _, rd := range j.Rounds {
		for _, t := range rd.Tasklets {
			out.Tasklets++
			if t.Screened != "" {
				out.Screened++
				get(t.Peer).Caught++
			}
			used := t.Receipt != nil && t.State == scheduler.TaskDone
			if used {
				out.UsedSeconds += float64(t.Receipt.ComputeMillis) / 1000
			}
			c := t.Check
			if c == nil {
				if t.Receipt != nil {
					get(t.Peer).Ran++
				}
				continue
			}
			for _, r := range c.Results {
				out.ReplicaSeconds += float64(r.Receipt.ComputeMillis) / 1000
			}
			if used {
				out.ReplicaSeconds -= float64(t.Receipt.ComputeMillis) / 1000
			}
			out.Checked++
			sc := api.SpotCheck{Round: rd.Index + 1, Tasklet: t.Index, SpecCID: t.SpecCID, Probability: c.Probability, Drawn: c.Drawn,
				Need: c.Need, Results: []api.SpotResult{}, Outcome: c.Outcome, Winners: c.Winners, Losers: c.Losers, Reasons: c.Reasons,
				Decided: c.Decided, Evidence: c.Evidence}
			if sc.Outcome == "" {
				sc.Outcome = "running"
			}
			for _, r := range c.Results {
				sc.Results = append(sc.Results, api.SpotResult{Peer: r.Peer, Output: r.Output})
				w := get(r.Peer)
				w.Ran++
				if c.Outcome != "" && c.Outcome != scheduler.OutcomeUnverifiable {
					w.Checked++
				}
			}
			for _, l := range c.Losers {
				get(l).Caught++
			}
			if c.Need >= 3 {
				out.Mismatches++
			}
			switch c.Outcome {
			case string(verify.Verified), string(verify.OddOneOut):
				out.Verified++
			case string(verify.ExecutorFault):
				out.Dropped++
			case scheduler.OutcomeUnverifiable:
				out.Unverifiable++
				if t.State == scheduler.TaskDropped {
					out.Dropped++
				}
			}
			out.Checks = append(out.Checks, sc)
		}
	}
	if out.UsedSeconds > 0 {
		out.Overhead = out.ReplicaSeconds / out.UsedSeconds
	}
	peers := make([]string, 0, len(tally))
	for p := range tally {
		peers = append(peers, p)
	}
	sort.Strings(peers)
	for _, p := range peers {
		w := tally[p]
		w.Banned = banned(p)
		out.Workers = append(out.Workers, *w)
	}
	return out
}

// Report acts on an equivocation proof a user or tool found: two receipts
// one worker signed for one tasklet with different outputs. A valid proof
// bans the worker here and is gossiped to the swarm's other coordinators;
// anything else is refused with the reason.
func (s *VerifyService) Report(ctx context.Context, proof api.Proof) (api.ReportResult, error) {
	p, err := verify.DecodeProof(proof)
	if err != nil {
		return api.ReportResult{}, err
	}
	signer, err := s.n.coord.Equivocated(p)
	if err != nil {
		return api.ReportResult{}, fmt.Errorf("the proof is refused: %w", err)
	}
	out := api.ReportResult{Worker: signer.Hex(), Peer: p.A.WorkerPeer}
	if tx, err := s.n.slash(ctx, p); err != nil {
		out.NotSlashed = err.Error()
	} else {
		out.Slashed, out.SlashTx = tx.Amount, tx.Tx
	}
	if err := s.n.gossipProof(ctx, p); err != nil {
		s.n.log.Warn("cannot gossip a reported equivocation proof", "err", err)
	} else {
		out.Gossiped = true
	}
	return out, nil
}
