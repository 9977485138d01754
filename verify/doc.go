// Package verify is the pure core of result verification by redundant
// execution (issue 9): who gets spot-checked, how replicas are compared
// and voted on, what a lost vote costs a peer, and the cheap checks every
// output passes. It does no I/O; the coordinator passes the time and the
// randomness (crypto/rand.Reader), persists the Book and carries out the
// verdicts.
//
// How the coordinator calls it, per tasklet:
//
//	dispatch ── primary peer P
//	   │  rec := book.Get(Key{P, class})
//	   │  Draw(rec, Rates{spec.Verify.Rate, spec.Verify.MinRateNewPeers}, crypto/rand.Reader)
//	   │     false ─► result accepted unchecked (after Screen)
//	   │     true  ─► ReplicaCandidates([P], peers) → place the same tasklet CID on R
//	   ▼
//	outputs of P and R ──► Decide(Comparator{class, tolerance}, outputs)
//	   │  Verified   ─► accept; Record.Verified for both
//	   │  NeedThird  ─► PickThird(book, class, [P, R], peers) → run on T,
//	   │                Decide again on [P, R, T] (no peer qualifies: wait
//	   │                or drop the tasklet; nobody is penalised)
//	   │  OddOneOut  ─► accept the winners' output; Record.LostVote for the
//	   │                loser (Rule: repeated losses ban it), Verified for the rest
//	   │  ExecutorFault ─► drop the tasklet and report
//	   ▼
//	round's accepted deltas ──► Screen(deltas) ──► aggregate those without error
//
// Every returned tasklet counts Record.Ran. Book.Banned(peer, now) is the
// placement filter (reason "banned"). Two receipts one worker signed for
// one tasklet with different outputs are a Proof: CheckEquivocation
// verifies it, Record.Equivocated bans the worker, and Proof.Encode gives
// the size-capped form to gossip.
//
// Comparison: builtin and wasm outputs are bitwise reproducible, so they
// agree only on equal output CIDs. process (GPU) outputs agree within a
// Tolerance (relative L2 distance of the weight deltas, loss difference)
// that Calibrate derives from honest replica pairs: SafetyFactor × the
// largest distance observed, at least MinRelL2 / MinLossDiff.
//
// Check rate (Probability): 1 for a peer that lost a vote and has not yet
// earned ShortRecord verified results since; max(min_rate_new_peers, rate)
// for a new peer with a short record; max(1/consecutive, rate) after
// (BOINC adaptive replication with the job's rate as a floor). A worker
// that fakes k tasklets at check rate p escapes with probability (1−p)^k.
package verify
