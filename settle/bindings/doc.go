// Package bindings holds the Go bindings (abigen v2) of gridswarm's
// settlement contracts: GridToken, JobEscrow, Registry and WorkerStake.
//
// Generated, never edited by hand:
//
//	settle/contracts/src/*.sol ──node compile.js (pinned solc)──► settle/contracts/artifacts.json
//	artifacts.json ──go generate ./settle/bindings──► bindings.go
//
// TestBindingsMatchSources fails when bindings.go, artifacts.json and the
// Solidity sources disagree.
package bindings

//go:generate go run ../internal/bindgen/cmd/bindgen -in ../contracts/artifacts.json -out bindings.go
