// Package placement decides which peers run which tasklets.
//
// It is a pure function over a read-only snapshot of the swarm: no network,
// no clock, no global state. The same snapshot, tasklets and seed always give
// the same decisions, so a placement can be replayed after the fact.
//
//	snapshot ─┐
//	          ├─ per requirement class: rule chain (cheap checks first)
//	tasklets ─┘     banned → not idle → executor → GPU → disk → price → version
//	                   │ each rejected peer counted under a named reason
//	                   ▼
//	           feasible peers, by site ── per group of peers that rank alike
//	                   │          (class, samples, site, which of the shared
//	                   │          inputs they hold, path speeds): a heap on ETA
//	                   │          + exact ETA for the few peers holding other
//	                   │          inputs or parts of them
//	                   ▼
//	           k best by ETA, ties: reputation ↓, price ↑, seeded random
//	                   │          chosen peers' queues grow, and they hold the
//	                   │          tasklet's inputs for later tasklets
//	                   ▼
//	              []Decision (chosen peers, ETAs, breakdown, reasons)
//
// The estimated completion time of a tasklet on a peer is
//
//	ETA = RTT×RoundTrips + Σ missing bytes / min(BandwidthBps, path) + Samples/Throughput + Queue
//
// where an input's path is the best Options.Links estimate from any of its
// SourceSites to the peer's Site (unbounded when none is known: the fetch
// then runs at the peer's own bandwidth). An input is missing unless the
// peer holds it (Peer.Holds) or an earlier tasklet of the same call was
// placed there and will have fetched it. RTT is to the coordinator: the
// offer, the receipt and the first request all start there, and a path's
// bandwidth already reflects its latency.
//
// Options.Strategy StrategyRandom replaces the ranking with a seeded random
// draw among the same feasible peers (unloaded ones first): the baseline a
// user compares against (config coordinator.placement = "random"). The ETA
// is still worked out and reported for the chosen peer.
//
// Decision.Explain turns a decision into a sentence a user can read, for
// example "waiting: 0 of 12 peers feasible: 7 not idle, 5 lack executor wasm".
package placement
