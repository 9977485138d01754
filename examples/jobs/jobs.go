// Package jobs embeds the example job specs so the demo trains the same job
// a user would submit from examples/jobs.
package jobs

import _ "embed"

// MNISTMLP is mnist-mlp.yaml; its dataset CID is the placeholder Placeholder.
//
//go:embed mnist-mlp.yaml
var MNISTMLP []byte

// MNISTCNN is mnist-cnn.yaml; its dataset CID is the placeholder Placeholder.
//
//go:embed mnist-cnn.yaml
var MNISTCNN []byte

// MNISTWasm is mnist-wasm.yaml; its dataset CID is Placeholder and its
// program's CID ProgramPlaceholder.
//
//go:embed mnist-wasm.yaml
var MNISTWasm []byte

// MNISTPyTorch is mnist-pytorch.yaml, with the same placeholders.
//
//go:embed mnist-pytorch.yaml
var MNISTPyTorch []byte

// ProgramPlaceholder stands where a program job's program CID goes.
const ProgramPlaceholder = "REPLACE_WITH_PROGRAM_CID"

// Placeholder stands where the dataset's CID goes.
const Placeholder = "REPLACE_WITH_DATASET_CID"
