// Package dataset defines the gridswarm dataset format, a folder of
// safetensors shards described by manifest.json, and imports MNIST into it.
//
//	mnist/
//	  manifest.json             format, name, license, per-sample tensor specs,
//	  train-000.safetensors     classes and the shard list (file, split, samples)
//	  ...                       each shard: images U8 [samples 784]
//	  train-010.safetensors                 labels U8 [samples]
//	  validation-000.safetensors
//	  test-000.safetensors
//	  test-001.safetensors
//
// The flow of an import and of a training run:
//
//	IDX .gz files --BuildMNIST(FS)--> shards + manifest --ValidateDir--> data grid
//	(mnistdata: built in)
//	                                     |
//	                                     +--LoadShard--> Float32 / Labels --> trainer
//
// Everything read from disk is size-capped and validated: the manifest
// strictly (unknown fields, bad splits, unsafe file names), each shard against
// the manifest (dtype and [samples]+shape of every tensor). Builds are
// deterministic, so two peers importing MNIST get the same bytes and CIDs.
package dataset
