// Package worldnet is an in-memory world-wide network for tests and
// benchmarks: go-libp2p's mocknet with each peer in a region and every pair
// of peers linked at the round-trip time and bandwidth measured between
// their regions (scheduler/sim's geo-latency.json, Yuan et al. 2022).
//
//	New(geo) ── Host("Tokyo") ──▶ func(key) (host.Host, error)  (node.Options.NewHost)
//	               │ AddPeer(key, /ip4/10.<region>.<n>/tcp/4001)
//	               │ a ping service (mocknet hosts have none)
//	               ▼ LinkPeers with every earlier peer:
//	                 Latency = RTT/2 (mocknet delays each write by it)
//	                 Bandwidth = the pair's bytes/s (one limiter per link)
//
// Nothing leaves the process: peers reach only peers of the same Net. A
// mocknet link delays every write by its latency and meters it against its
// bandwidth; it does not model loss or TCP's congestion window, so a link is
// a lower bound on what the same path costs on the Internet.
package worldnet
