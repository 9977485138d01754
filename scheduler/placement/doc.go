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
//	           feasible peers ── per shape (class, input bytes, samples):
//	                   │          heap keyed on ETA for peers lacking the inputs
//	                   │          + exact ETA for the few peers holding some
//	                   ▼
//	           k best by ETA, ties: reputation ↓, price ↑, seeded random
//	                   │          chosen peers' queues grow for later tasklets
//	                   ▼
//	              []Decision (chosen peers, ETAs, breakdown, reasons)
//
// The estimated completion time of a tasklet on a peer is
//
//	ETA = RTT×RoundTrips + missing input bytes/bandwidth + Samples/Throughput + Queue
//
// Decision.Explain turns a decision into a sentence a user can read, for
// example "waiting: 0 of 12 peers feasible: 7 not idle, 5 lack executor wasm".
package placement
