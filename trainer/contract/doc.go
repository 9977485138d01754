// Package contract is the built-in executor's tasklet contract: the names of
// its inputs, the JSON form of its params, and the safetensors codecs for
// weights and dataset shards. The coordinator (scheduler) and the worker
// (worker/builtin) both stand on it, so neither reaches into the other.
package contract
