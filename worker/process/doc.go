// Package process is gridswarm's opt-in process executor: it runs a command
// the contributor allowed, such as `python3 train_tasklet.py`, for tasklets
// that need CUDA or PyTorch. It is off unless the contributor enables it.
//
//	Run(ctx, Task{Command, Inputs, Seed})
//	  │ argv[0] on worker.process.allow?   (by name and by resolved path)
//	  ▼
//	scratch/ (fresh, 0700)    in/   read-only copies of Inputs
//	  │                       out/  what the tasklet writes (Result.OutputDir)
//	  │                       tmp/  TMPDIR
//	  ▼
//	start: cwd = scratch, env scrubbed, own process group, SIGKILL if we die
//	prlimit(2): CPU, address space, file size, open files, no core dumps
//	  │
//	  ▼ wait; timeout or cancel kills the whole process group
//	Result{ExitCode, Stdout/Stderr tails, Duration, CPUTime, OutputDir}
//
// The environment holds only PATH (a fixed system value), HOME (the scratch
// dir), TMPDIR, LANG=C.UTF-8, GRIDSWARM_IN, GRIDSWARM_OUT, GRIDSWARM_SEED,
// CUDA_DEVICE_ORDER=PCI_BUS_ID (so CUDA numbers GPUs as NVML and nvidia-smi
// do), CUDA_VISIBLE_DEVICES ("" hides every GPU) and PYTHONHASHSEED=0.
//
// This is not a sandbox. The command runs as the daemon's user: it can read
// what that user can read and reach the network. Limits bound its resources,
// not its reach; enable it only for job submitters you trust, or run the
// daemon in a container or VM. Known gaps, each a deliberate trade-off:
//
//   - Limits are applied with prlimit(2) right after the child starts, since
//     os/exec cannot set them before exec. For a moment the program runs
//     unlimited; CPU time spent then still counts, but memory mapped or files
//     opened then are not taken back.
//   - RLIMIT_CPU is per process: each child of the command has its own
//     budget. The wall-clock timeout bounds the whole group.
//   - RLIMIT_NPROC is not set: it counts every process of the user (the
//     daemon's threads included) and root ignores it.
//   - RLIMIT_AS breaks CUDA, which reserves far more address space than it
//     uses; leave MemoryBytes at 0 for GPU work.
//   - A process that leaves the process group (setsid) escapes the group kill,
//     and only the direct child gets SIGKILL when the daemon dies.
package process
