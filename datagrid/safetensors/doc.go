// Package safetensors reads and writes the Hugging Face safetensors format,
// the tensor container PyTorch users already have.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON header
// and the byte buffer that holds every tensor back to back:
//
//	+----------+------------------------------------------+----------------+
//	| N uint64 | {"__metadata__":{..},"w":{"dtype":"F32", | tensor bytes   |
//	| (LE)     |  "shape":[2,3],"data_offsets":[0,24]},..}| (contiguous)   |
//	+----------+------------------------------------------+----------------+
//
// Decode validates everything a peer could lie about (lengths, offsets, dtypes,
// shapes, overlaps, gaps, trailing bytes, duplicate names) before it hands out
// a tensor, and DecodeHeader reads only the header of a file too big to load.
// Encode is deterministic: the same tensors and metadata always give the same
// bytes, because outputs of independent workers are compared by content hash.
package safetensors
