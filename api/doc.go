// Package api holds the types of the daemon's JSON-RPC API: what its
// methods take and answer. The daemon (package node) serves them and the
// client (package client) reads them, so both agree on the JSON without
// the client pulling in the daemon: this package imports nothing but the
// standard library.
//
//	CLI ──► client ──JSON-RPC──► node/api (guard) ──► node services
//	           │                                          │
//	           └────────────── api (these types) ─────────┘
//
// Types whose JSON embeds the daemon's own records (a job, a receipt, a
// capability record) are still defined next to those records.
package api
