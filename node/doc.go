// Package node assembles the daemon: it opens the repo, unlocks the identity,
// starts the libp2p swarm, metrics and the JSON-RPC, writes the endpoint file
// when all are ready and undoes it all on Close.
//
//	repo.Open ─▶ unlock identity ─▶ p2p.Start ─▶ metrics ─▶ api.Listen ─▶ endpoint file
//	                                                   (Close runs it backwards)
//
// The JSON-RPC namespaces live here too (service_*.go): node_, peer_, dht_.
package node
