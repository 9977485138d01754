// Package e2e drives the real gridswarm binary the way a user does: it builds
// it once, creates local-profile repos, starts daemon processes on loopback
// and talks to them through the CLI and the JSON-RPC. Skipped with -short.
package e2e
