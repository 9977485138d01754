// Package bindgen turns the compiled contracts (settle/contracts/
// artifacts.json, written by compile.js with the pinned solc) into Go
// bindings with go-ethereum's abigen v2. It is what `go generate
// ./settle/bindings` runs, and what the drift test calls to check that the
// committed bindings match the committed artifacts.
package bindgen
