// Package wasm runs WebAssembly tasklets from strangers inside wazero, with
// no network, no host clock or entropy, a memory and a time limit, read-only
// inputs and one size-capped output directory.
//
//	Task{Module, Args, Seed, InputDir, OutputDir}
//	   │ check: size cap, dirs exist, /out empty, no symlinks in /in
//	   ▼
//	compile (LRU of CompiledModules keyed by sha256; optional disk cache)
//	   │ check: only wasi_snapshot_preview1 imports, _start export,
//	   │        memory minimum within the limit, small tables
//	   ▼
//	instantiate + call _start under a deadline, with
//	   guarded memory allocator ─ refuses growth past the limit, remembers it
//	   /out filesystem ────────── no symlinks or hard links, size/entry budget
//	   virtual clock, seeded random_get, capped stdout/stderr
//	   ▼
//	classify: timeout > memory limit > output budget > exit code / trap
//	   ▼
//	walk /out: regular files and directories only, total ≤ MaxOutputBytes
//	   ▼
//	Result{ExitCode, Stdout, Stderr, Duration, OutputBytes, MemoryBytes}
//
// # Tasklet ABI (version 1)
//
// A tasklet is a WASI preview 1 ("wasip1") command module: it exports a
// function "_start" and its linear memory, and imports functions only from
// "wasi_snapshot_preview1". Go builds one with
// `GOOS=wasip1 GOARCH=wasm go build`; Rust with `--target wasm32-wasip1`;
// C with wasi-sdk. Reactor modules (exporting "_initialize") and any other
// import module are rejected with ErrBadModule.
//
//   - Arguments: argv[0] is "tasklet", argv[1:] are Task.Args.
//   - Environment: exactly one variable, GRIDSWARM_SEED, the task seed in
//     decimal (uint64).
//   - Randomness: random_get returns a stream fixed by the seed and nothing
//     else: ChaCha8 (math/rand/v2, the C2SP chacha8rand generator) keyed with
//     SHA-256("gridswarm/wasm/random_get/v1" ‖ seed as 8 big-endian bytes).
//     The language runtime draws from the same stream (Go seeds its maps
//     and crypto/rand from it), so two runs with the same module, inputs,
//     args and seed see the same bytes.
//   - Clocks: virtual. Both clocks start at a fixed point (monotonic at 0,
//     wall clock at 2024-01-01T00:00:00Z) and advance 1µs per reading; a
//     sleep (poll_oneoff with a clock subscription) returns at once and
//     advances them by the requested time. Time therefore measures nothing
//     real, but loops that wait on the clock still make progress.
//   - Files: the task's input directory is mounted read-only at /in (each
//     input by its file name); /out is writable and empty at start. Nothing
//     else of the host file system is visible. Symlinks and hard links
//     cannot be created and chmod is refused (EPERM): on a writable mount
//     a relative symlink would let the guest reach host files outside
//     /out. Files are created 0644 and directories 0755 whatever the guest
//     asks, so the worker can always read and remove them. The total logical
//     size of /out may not exceed the executor's MaxOutputBytes and it may
//     hold at most 100,000 entries; a write past either fails with EIO and
//     the run ends in ErrOutputTooLarge.
//   - Stdin is empty. Stdout and stderr are each kept up to 64 KiB; later
//     bytes are dropped and a truncation marker is appended.
//   - Network: none. No sockets are pre-opened and no other host module is
//     provided, so sock_accept, sock_recv, sock_send and sock_shutdown fail
//     (EBADF or ENOTSOCK). Go's net package on wasip1 dials an in-process
//     fake network: net.Dial fails inside the guest ("connection refused")
//     without calling the host at all.
//   - Memory: linear memory may grow to the executor's MemoryLimitPages
//     (64 KiB pages). A module whose declared minimum is larger fails before
//     it runs; a memory.grow past the limit returns -1 to the guest and, if
//     the run then fails, the failure is reported as ErrMemoryLimit.
//   - Features: WebAssembly 2.0 without reference types (table.grow would
//     let a guest allocate host memory outside the memory limit). Bulk
//     memory, SIMD, multi-value, sign extension and non-trapping float
//     conversions are on. Table sizes are capped at 1<<20 entries.
//   - Exit: exit code 0 is success. Any other code is *ExitError with the
//     stderr tail. A trap (unreachable, out-of-bounds access, stack
//     overflow) is ErrTrap.
//
// Results depend only on (module, args, seed, inputs), which is what lets a
// coordinator verify a tasklet by running it twice and comparing output
// CIDs.
package wasm
