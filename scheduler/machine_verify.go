package scheduler

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/verify"
)

// Spot checks in the round machine (issue 9). Each placement of a tasklet
// that is not yet under check is drawn for one with the placed peer's
// record (verify.Draw). A drawn tasklet needs two outputs from
// independent peers, launched in the same Tick so that timing does not
// tell the replica apart: same spec, same tasklet CID, no flag. The vote
// (verify.Decide) then accepts an output, asks for a third replica, or
// drops the tasklet; the tasklet is done only when the vote is decided,
// so the round never aggregates an output that lost.

// trust applies f to peer's record on the round's class, if verifying.
func (m *Machine) trust(peer string, f func(r *verify.Record, u verify.Rule)) {
	if v := m.cfg.Verify; v.Trust != nil {
		v.Trust.Update(verify.Key{Peer: peer, Class: v.Class}, f)
	}
}

// draw decides whether tasklet i, just placed on peer, is spot-checked.
func (m *Machine) draw(i int, peer string) {
	v := m.cfg.Verify
	t := &m.rd.Tasklets[i]
	if v.Trust == nil || t.Check != nil {
		return
	}
	rec := v.Trust.Get(verify.Key{Peer: peer, Class: v.Class})
	if verify.Draw(rec, v.Rates, v.Rand) {
		t.Check = &SpotCheck{Need: 2, Probability: verify.Probability(rec, v.Rates), Drawn: peer}
	}
}

// involved lists the peers that delivered a result of tasklet i's check
// or run one of its attempts now.
func (m *Machine) involved(i int) []string {
	t := &m.rd.Tasklets[i]
	var out []string
	for _, r := range t.Check.Results {
		out = append(out, r.Peer)
	}
	for _, k := range running(t) {
		if p := t.Attempts[k].Peer; !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func peerInfo(p placement.Peer) verify.PeerInfo {
	return verify.PeerInfo{Peer: p.ID, Addrs: p.Addrs, Account: p.Account}
}

// replicaExclusions lists the peers of snap that may not hold another
// replica of tasklet i: those already involved, those sharing a network
// or payout account with them, and for a third replica every peer but the
// one verify.PickThird chose.
func (m *Machine) replicaExclusions(now time.Time, i int, snap []placement.Peer) []string {
	inv := m.involved(i)
	byID := map[string]placement.Peer{}
	var cands []verify.PeerInfo
	for _, p := range snap {
		byID[p.ID] = p
		if !p.Banned {
			cands = append(cands, peerInfo(p))
		}
	}
	placed := make([]verify.PeerInfo, 0, len(inv))
	for _, id := range inv {
		if p, ok := byID[id]; ok {
			placed = append(placed, peerInfo(p))
		} else {
			placed = append(placed, verify.PeerInfo{Peer: id})
		}
	}
	allowed, _ := verify.ReplicaCandidates(placed, cands)
	if m.rd.Tasklets[i].Check.Need < 3 {
		allowed = m.preferTrusted(inv, allowed)
	}
	if m.rd.Tasklets[i].Check.Need >= 3 {
		pick, ok, _ := m.cfg.Verify.Trust.PickThird(m.cfg.Verify.Class, placed, cands, now)
		allowed = nil
		if ok {
			allowed = []verify.PeerInfo{pick}
		}
	}
	var out []string
	for _, p := range snap {
		if !slices.ContainsFunc(allowed, func(a verify.PeerInfo) bool { return a.Peer == p.ID }) {
			out = append(out, p.ID)
		}
	}
	return out
}

// preferTrusted narrows a replica's candidates to peers with a full
// record (verify.ShortRecord verified results in a row) when one of the
// involved peers has a short record and such peers exist: a new worker is
// checked by a trusted one, so two newcomers who collude are not left to
// check each other. A full-record candidate that is busy is waited for
// (at most ReplicaWait).
func (m *Machine) preferTrusted(involved []string, allowed []verify.PeerInfo) []verify.PeerInfo {
	v := m.cfg.Verify
	full := func(peer string) bool {
		return v.Trust.Get(verify.Key{Peer: peer, Class: v.Class}).Consecutive >= verify.ShortRecord
	}
	if !slices.ContainsFunc(involved, func(p string) bool { return !full(p) }) {
		return allowed
	}
	var trusted []verify.PeerInfo
	for _, a := range allowed {
		if full(a.Peer) {
			trusted = append(trusted, a)
		}
	}
	if len(trusted) == 0 {
		return allowed
	}
	return trusted
}

// replicate launches the replicas tasklet i's check still needs. why says
// why one waits; a check that no peer of the snapshot can ever serve ends
// as unverifiable.
func (m *Machine) replicate(now time.Time, i int, snap []placement.Peer, wake *time.Time) (out []Decision, why string) {
	t := &m.rd.Tasklets[i]
	for t.Check.Outcome == "" && len(t.Check.Results)+len(running(t)) < t.Check.Need {
		also := m.replicaExclusions(now, i, snap)
		c := m.place(now, i, snap, also, wake)
		if c.peer == "" {
			pt := m.template(i)
			if m.hopeless(snap, &pt, slices.Concat(m.Excluded(i), also)) {
				m.unverifiable(now, i, "no independent peer could run replica %d")
				return out, ""
			}
			if since, ok := m.resultSince(i); ok && m.cfg.ReplicaWait > 0 {
				if giveUp := since.Add(m.cfg.ReplicaWait); !now.Before(giveUp) {
					m.unverifiable(now, i, fmt.Sprintf("no peer could take replica %%d within %s", m.cfg.ReplicaWait))
					return out, ""
				} else if giveUp.Before(*wake) {
					*wake = giveUp
				}
			}
			return out, "waits for a spot-check replica: " + c.why
		}
		out = append(out, m.launch(now, i, c, false, snap))
	}
	return out, ""
}

// resultSince is when tasklet i's check got its latest result.
func (m *Machine) resultSince(i int) (time.Time, bool) {
	t := &m.rd.Tasklets[i]
	if len(t.Check.Results) == 0 {
		return time.Time{}, false
	}
	a := t.Attempts[t.Check.Results[len(t.Check.Results)-1].Attempt]
	if a.Ended == nil {
		return time.Time{}, false
	}
	return *a.Ended, true
}

// unverifiable ends tasklet i's check when no independent peer can run
// the replica it needs (format says why, %d the replica's number): a lone result is accepted unchecked, a mismatch
// nobody can settle drops the tasklet, and with no result yet the one
// attempt that runs or comes decides. Nobody is penalised.
func (m *Machine) unverifiable(now time.Time, i int, format string) {
	t := &m.rd.Tasklets[i]
	c := t.Check
	why := fmt.Sprintf(format, len(c.Results)+len(running(t))+1)
	switch {
	case len(c.Results) == 0:
		c.Need = 1
		if !slices.Contains(c.Reasons, why) {
			c.Reasons = append(c.Reasons, why)
		}
		return
	case len(c.Results) == 1:
		c.Reasons = append(c.Reasons, why+": the result is accepted unchecked")
		r := c.Results[0]
		accept(t, r.Peer, r.Receipt)
	default:
		c.Reasons = append(c.Reasons, why+" to settle the mismatch: the tasklet is dropped")
		t.State, t.Dropped = TaskDropped, "its spot check's mismatch could not be settled: "+why
	}
	// replicate calls this only when no attempt runs besides the results.
	c.Outcome, c.Decided = OutcomeUnverifiable, timePtr(now)
}

// decide votes on tasklet i's check once it has the outputs it needs.
func (m *Machine) decide(now time.Time, i int) {
	t := &m.rd.Tasklets[i]
	c := t.Check
	if len(c.Results) == 1 { // only one peer could run it
		c.Outcome, c.Decided = OutcomeUnverifiable, timePtr(now)
		accept(t, c.Results[0].Peer, c.Results[0].Receipt)
		return
	}
	outs := make([]verify.Output, len(c.Results))
	for k, r := range c.Results {
		outs[k] = verify.Output{Peer: r.Peer, CID: r.Output}
		if m.cfg.Verify.Decoded != nil {
			outs[k].Delta = m.cfg.Verify.Decoded(r.Output)
		}
	}
	v := verify.Decide(m.cfg.Verify.Comparator, outs)
	c.Reasons = append(c.Reasons, v.Reasons...)
	switch v.Outcome {
	case verify.NeedThird:
		c.Need = 3
		return
	case verify.Verified, verify.OddOneOut:
		c.Winners, c.Losers = v.Winners, v.Losers
		for _, p := range v.Winners {
			m.trust(p, func(r *verify.Record, u verify.Rule) { r.Verified(now, u) })
		}
		for _, p := range v.Losers {
			m.trust(p, func(r *verify.Record, u verify.Rule) { r.LostVote(now, u) })
		}
		r := c.Results[v.Accepted]
		accept(t, r.Peer, r.Receipt)
	default:
		t.State, t.Dropped = TaskDropped, strings.Join(v.Reasons, "; ")
	}
	c.Outcome, c.Decided = string(v.Outcome), timePtr(now)
}
