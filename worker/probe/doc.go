// Package probe finds out what this machine can offer to the grid — its
// NVIDIA GPUs (through NVML), CPU cores, memory and free disk — and decides,
// from a stream of samples, when those GPUs are idle enough to lend.
//
//	Run(ctx, Options) ─► Probe{GPUs, Driver, CUDA, NoGPUReason, CPUCores, Memory…, DiskFree}
//	                        (capabilities the worker advertises)
//
//	Sampler.Sample ─► []GPU ─► IdleTracker.Observe(now, gpus, ownPIDs)
//	                                │
//	               IdleTracker.Offerable(now) ─► GPU indexes to offer
//	               IdleTracker.Reason(now)    ─► "GPU0: utilisation 73% at 14:02:11, quiet for 2m of 5m"
//	               Slots.TryAcquire()         ─► caps concurrent tasklets
//
// A machine without an NVIDIA driver, or a build without cgo, is a normal
// case: the probe reports no GPU and says why in NoGPUReason. NVML is used
// through go-nvml's nvml.Interface, so tests drive the same code with the
// generated mocks in github.com/NVIDIA/go-nvml/pkg/nvml/mock.
//
// The idle logic is pure: the clock is an argument of every call. A GPU is
// offered only after it has been watched for the whole QuietFor window with
// its utilisation at or under MaxUtilization and no compute process other
// than ours on it, and only inside the contributor's hours.
package probe
