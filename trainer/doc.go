// Package trainer is the math of gridswarm's built-in executor: a pure-Go
// float32 trainer for softmax regression, ReLU MLPs and small CNNs
// (convolution by im2col, ReLU, max-pool, dense head; conv.go) whose
// results are bitwise identical on every machine, and the DiLoCo outer
// step that merges the workers' results.
//
// A round of data-parallel training with infrequent synchronisation:
//
//	coordinator                          worker i (tasklet: model, global, shard i, H, seed i)
//	-----------                          --------
//	global ───────────────────────────►  Train(ctx, m, global, shard, cfg{Steps: H, Seed: seed i})
//	                                         H minibatch steps of SGD-momentum or AdamW
//	local[i] ◄───────────────────────────    = local[i], Metrics
//	Delta(global, local[i])  for each i
//	AverageDeltas(deltas)    in tasklet order
//	OuterNesterov(global, avg, &state, lr, momentum) = next global
//
// Reproducibility is by construction, not by tolerance: every reduction
// runs in one fixed order, every product that meets an addition is
// explicitly rounded (float32(a*b) + c) so no compiler may fuse it into an
// FMA, exp and log are computed by this package rather than by the
// machine-dependent math.Exp/math.Log, and all randomness comes from a
// splitmix64 generator seeded by the caller. Two honest workers given the
// same tasklet therefore return the same bytes, which is what lets the
// verifier compare replicas by CID.
//
// The matrix products, most of the work, run on amd64 in small assembly
// kernels (gemm_amd64.s) that perform the same IEEE multiplies and adds in
// the same order as the Go code: an 8×8 tile of VMULPS and VADDPS where
// the CPU has AVX, a 4×8 tile of SSE's MULPS and ADDPS (every amd64 CPU)
// for the rows left over. Go does not vectorise, and the scalar code is
// about three times slower. The convolutions' products read B from packed
// panels (gemm_panel.go). Adam's and SGD's steps have AVX loops too
// (optim_amd64.s), operation for operation the Go loops', and so do the
// transposes and the widening of byte images (moves and one exact
// conversion). Other architectures, and builds with -tags purego, use the
// Go code. The
// tests check that every kernel, GOAMD64 level, GOMAXPROCS and Workers
// value gives the same bits, pin a digest in testdata, and scan the
// compiled code for FMA instructions on amd64 and arm64.
package trainer
