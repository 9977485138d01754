// Package builtin is the executor named "builtin": it trains a softmax or MLP
// model with package trainer on one data shard, reading its inputs from and
// writing its output to the data grid.
//
//	spec.Inputs: weights (safetensors) ─┐
//	             shard   (safetensors) ─┴─▶ trainer.Train(H steps, seed) ─▶ weights' (safetensors) ─▶ grid ─▶ output CID
//
// The output bytes depend only on the spec, so two honest workers return the
// same CID for the same tasklet: verification compares CIDs.
package builtin
