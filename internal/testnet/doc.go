// Package testnet builds a small network of real hosts for tests and
// benchmarks: each host is a Linux network namespace with its own IPv4
// address on a veth link to a bridge, and each link's bandwidth is shaped
// with tbf in both directions.
//
//	host ns "gsXXXX-h0"          switch ns "gsXXXX-sw"           host ns "gsXXXX-h1"
//	eth0 10.77.0.1 ──veth──▶ p0 ┐                        ┌ p1 ◀──veth── eth0 10.77.0.2
//	(tbf: upload)      (tbf: download) └──── bridge br0 ────┘
//
// The bridge lives in its own namespace, so nothing is added to the host's
// root namespace and no host has a route out: traffic cannot leave the
// network. Names carry a random tag, so tests in parallel packages do not
// collide. Everything is removed by t.Cleanup.
//
// It needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and the ip and tc tools;
// without them New skips the test with a message saying what is missing.
package testnet
