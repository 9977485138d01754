// Package process is gridswarm's opt-in process executor: it runs a command
// the contributor allowed, such as `python3 train_tasklet.py`, for tasklets
// that need CUDA or PyTorch, inside a bubblewrap sandbox. It is off unless
// the contributor enables it.
//
//	Run(ctx, Task{Command, Inputs, Seed})
//	  │ argv[0] on worker.process.allow?   (by name and by resolved path)
//	  ▼
//	scratch/ (fresh, 0700)    in/   read-only copies of Inputs
//	  │                       out/  what the tasklet writes (Result.OutputDir)
//	  │                       tmp/  TMPDIR
//	  ▼
//	cgroup gridswarm/<scratch>: memory, pids, CPU bandwidth of the whole tree
//	  ▼
//	/bin/sh shim, blocked on a pipe ──► moved into the cgroup, rlimits set
//	  ▼ released: exec bwrap (sandbox_linux.go)
//	bwrap: new user/pid/net/ipc/uts/cgroup namespaces, no capabilities,
//	       uid 65534, root = runtime (read-only) + /proc /dev /tmp + /tasklet
//	  ▼ wait; timeout or cancel kills bwrap, whose pid namespace dies with it
//	Result{ExitCode, Stdout/Stderr tails, Duration, CPUTime, OutputDir}
//
// Inside, the scratch folder is /tasklet (in/ read-only), and the
// environment holds only PATH (a fixed system value), HOME=/tasklet,
// TMPDIR, LANG=C.UTF-8, GRIDSWARM_IN, GRIDSWARM_OUT, GRIDSWARM_SEED,
// CUDA_DEVICE_ORDER=PCI_BUS_ID (so CUDA numbers GPUs as NVML and
// nvidia-smi do), CUDA_VISIBLE_DEVICES ("" hides every GPU) and
// PYTHONHASHSEED=0.
//
// What is isolated: the network (a private loopback only), the host's
// files (only the runtime, read-only, and the scratch folder), other
// processes (a pid namespace), the daemon's environment, capabilities,
// devices (a minimal /dev, plus /dev/nvidia* of the lent GPUs only). What
// bounds it: a cgroup per tasklet (memory without swap, pids.max, CPU
// quota) where one is writable (cgroup v2, or v1 memory+pids), else
// per-process rlimits; RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NOFILE and no core
// dumps always; the wall-clock timeout. What is not isolated: the kernel
// itself (a kernel exploit escapes any namespace), CPU caches and timing,
// the GPU's memory between tasklets on one device, and the runtime's
// contents, which every tasklet may read. Executor.Isolation says which
// limits apply on this host.
//
// Known gaps:
//
//   - RLIMIT_CPU is per process: each child has its own budget. The cgroup's
//     CPU quota bounds the rate, the wall-clock timeout the total.
//   - Without a writable cgroup, memory is RLIMIT_AS per process (which
//     breaks CUDA: leave MemoryBytes at 0 for GPU work there) and the
//     number of processes is not bounded.
//   - Unsandboxed (for hosts without user namespaces) gives the command
//     the daemon's user's reach, as before bubblewrap: trusted submitters
//     only.
package process
