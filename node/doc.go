// Package node assembles the daemon: it opens the repo, unlocks the identity,
// starts the libp2p swarm, metrics and the JSON-RPC, writes the endpoint file
// when all are ready and undoes it all on Close.
//
//	repo.Open ─▶ unlock keys ─▶ p2p.Start ─▶ datagrid.Open ─▶ worker.Start
//	  ─▶ scheduler (resume jobs) ─▶ metrics ─▶ api.Listen ─▶ endpoint file
//	                                        (Close runs it backwards)
//
// The JSON-RPC namespaces live here too (service_*.go): node_, peer_, dht_,
// data_, worker_, tasklet_ and job_, with adapters (coordination.go) that
// give the scheduler the grid and the swarm through its small interfaces.
package node
