// Package api serves gridswarm's JSON-RPC on loopback: go-ethereum's rpc
// server over HTTP and WebSocket behind one guard that checks, in order, the
// Host header (DNS rebinding), the Origin, the bearer token and the body size.
//
//	request ─▶ Host loopback? ─403─▶ Origin allowed? ─403─▶ token? ─401─▶ size ─413─▶ rpc.Server
//	                                                                         └─ WebSocket upgrade ─▶ rpc.Server
package api
