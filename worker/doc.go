// Package worker assembles what a contributor's daemon offers the swarm: the
// capability probe and idle policy, the executors (builtin trainer, WASM
// sandbox, opt-in process), the tasklet service that admits, runs and signs
// tasklets, and the loop that publishes the node's capability record. For
// tests and demos of verification, a local-profile worker can be told to
// cheat on its builtin outputs (FaultConfig, fault.go); it never says so to
// the swarm.
//
//	probe ─▶ idle tracker ─┐          ┌─▶ builtin ─┐
//	slots ─────────────────┼─ Admit ──┼─▶ wasm ────┼─▶ data grid (output) ─▶ EIP-712 receipt
//	pause ─────────────────┘          └─▶ process ─┘
//	probe + throughput + price ─▶ p2p.PublishCaps (gossip + DHT)
package worker
