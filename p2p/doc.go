// Package p2p is gridswarm's libp2p layer: the host (TCP and QUIC, Noise and
// TLS, yamux, a resource manager with explicit limits, a connection manager
// under them, identify, ping), the Kademlia DHT under the private prefix
// /gridswarm/kad/1.0.0, GossipSub with strict signing and topic validators,
// signed DHT records in the /gsw namespace, and the peer table.
//
//	bootstrap peers ─▶ DHT ─▶ rendezvous "gridswarm/v1" ─▶ connect
//	                    │                                    │
//	                 records (/gsw/<peer>/<name>)        ping ─▶ peerstore RTT EWMA
//	GossipSub topics ─▶ validators (size, shape, rate) ─▶ peer table
//
// It knows nothing of jobs or chains.
package p2p
