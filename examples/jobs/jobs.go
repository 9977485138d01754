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

// Placeholder stands where the dataset's CID goes.
const Placeholder = "REPLACE_WITH_DATASET_CID"
