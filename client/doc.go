// Package client is the one way to talk to a running daemon: it finds the
// daemon through the repo's endpoint file (node/repo/endpoint), sends the
// repo's token, and wraps the JSON-RPC methods in typed calls whose types
// come from package api. The CLI uses nothing else.
//
// The client speaks JSON-RPC 2.0 itself (calls over HTTP, subscriptions
// over a WebSocket), so a program that talks to a daemon links neither
// libp2p, boxo nor go-ethereum; TestDeps keeps it that way.
package client
