// Package p2p is gridswarm's libp2p layer: the host (TCP and QUIC, Noise and
// TLS, yamux, a resource manager with explicit limits, a connection manager
// under them, identify, ping), the Kademlia DHT under the private prefix
// /gridswarm/kad/1.0.0, GossipSub with strict signing and topic validators,
// signed DHT records in the /gsw namespace, and the peer table.
//
//	bootstrap peers ─▶ DHT ─▶ rendezvous "gridswarm/v1" ─▶ connect
//	                    │                                    │
//	                 records (/gsw/<peer>/<name>)        ask its capability record
//	                                                     (/gridswarm/caps/1.0.0) unless fresh
//	                                                         │
//	                                                     ping ─▶ peerstore RTT EWMA ─▶ Vivaldi
//	                                                     (no answer: disconnect)        │
//	GossipSub topics ─▶ validators (size, rate per author,  republish policy ◀─────────┘
//	                    then signatures, replays)           (coordinate moved, peer joined;
//	                        │                                at most one re-send per interval)
//	                        ▼
//	                    peer table (records, announcements; pruned when peers are gone)
//
// It knows nothing of jobs or chains.
package p2p
