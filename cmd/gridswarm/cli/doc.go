// Package cli implements gridswarm's commands. Apart from init, daemon and
// demo (which start processes), every command talks to the running daemon
// only through its JSON-RPC, via package client.
package cli
