// Package client is the one way to talk to a running daemon: it finds the
// daemon through the repo's endpoint file, sends the repo's token, and wraps
// the JSON-RPC methods in typed calls. The CLI uses nothing else.
package client
