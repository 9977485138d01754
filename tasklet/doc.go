// Package tasklet is the libp2p protocol by which a coordinator offers one
// tasklet of a training job to a worker, and the worker's side of it.
//
//	coordinator (Offer)                          worker (Service)
//	-------------------                          ----------------
//	open /gridswarm/tasklet/1.0.0 ──────────────►
//	offer{signed OfferRecord} ──────────────────► signature, signer == stream peer,
//	                                              specCid == Spec.CID(), expiry,
//	                                              nonce not seen, executor, Admit
//	                           ◄──────────────────  decline{reason, detail} and close
//	                           ◄──────────────────  accept
//	                           ◄──────────────────  progress{fetching, i/n}  Fetch each input
//	                           ◄──────────────────  progress{running, d/t}   every HeartbeatEvery
//	cancel (ctx done), reset  ──────────────────►  run's ctx cancelled
//	                           ◄──────────────────  receipt{signed EIP-712} | failed{reason, detail}
//	close                                          close
//
// Framing: every message is a uvarint length and a JSON object
// {"v":1,"type":...}. The length is checked against the cap (MaxOfferMsg for
// an offer, MaxMsg otherwise) before the body is allocated. Each read and
// write has a deadline, and each stream reserves its buffers with the
// resource manager, as go-libp2p's ping does.
//
// The offer is a libp2p signed envelope (domain "gridswarm-tasklet-offer",
// codec "/gridswarm/tasklet-offer/1") over OfferRecord, so a worker holds
// attributable evidence of what it was asked to run. The tasklet Spec is
// content-addressed: its CID is CIDv1/raw/sha2-256 of Spec.Canonical.
//
// Liveness: the worker sends progress every HeartbeatEvery even when the
// executor reports nothing. The coordinator allows HeartbeatTimeout of
// silence, then fails with ErrWorkerLost; a dead stream or connection fails
// the same way at once. The coordinator's cancel message is best effort: a
// reset follows it, and either one cancels the run.
//
// Every refusal is a decline with one of the Reason constants, every
// abandoned run a failed message with one of the Fail constants, so the
// scheduler can record why a tasklet did not run where it was placed. A
// cancelled or failed run delivers no receipt: the worker frees its slot
// and discards what the run stored (ServiceConfig.Discard).
//
// Release (/gridswarm/tasklet-release/1.0.0) tells a worker that the
// coordinator has fetched outputs, so the worker can unpin them:
//
//	coordinator (Release)                        worker (Service.OnRelease)
//	release{outputs: [cid, ...]} ───────────────► unpin those it delivered to
//	                           ◄────────────────  released{done: n}   this peer
//
// Same framing, caps and deadlines (ReleaseTimeout); at most
// MaxReleaseOutputs CIDs per stream.
package tasklet
