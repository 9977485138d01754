package probe

import (
	"context"
	"fmt"
	"runtime"
	"sync"
)

// GPU is one NVIDIA GPU as NVML reported it at the time of a sample.
type GPU struct {
	Index             int          `json:"index"`
	Name              string       `json:"name"`
	UUID              string       `json:"uuid"`
	MemoryTotal       uint64       `json:"memory_total"` // bytes
	MemoryFree        uint64       `json:"memory_free"`  // bytes
	UtilizationGPU    uint32       `json:"utilization_gpu"`
	UtilizationMem    uint32       `json:"utilization_mem"`
	ComputeCapability string       `json:"compute_capability,omitempty"` // "9.0"
	Processes         []GPUProcess `json:"processes,omitempty"`
	// Unwatched is set when NVML reported neither utilisation nor compute
	// processes, so nobody can tell whether the owner is using the GPU; the
	// idle tracker never offers such a GPU.
	Unwatched bool `json:"unwatched,omitempty"`
}

// GPUProcess is a compute process running on a GPU.
type GPUProcess struct {
	PID        uint32 `json:"pid"`
	UsedMemory uint64 `json:"used_memory"` // bytes; 0 when NVML cannot tell
}

// GPUState is what one NVML sample found.
type GPUState struct {
	GPUs        []GPU
	Driver      string   // driver version, "550.54.15"
	CUDA        string   // highest CUDA version the driver supports, "12.4"
	NoGPUReason string   // why GPUs is empty; "" when it is not
	Warnings    []string // devices or fields NVML could not report
}

// Probe is what this machine can offer.
type Probe struct {
	GPUs            []GPU    `json:"gpus"`
	Driver          string   `json:"driver,omitempty"`
	CUDA            string   `json:"cuda,omitempty"`
	NoGPUReason     string   `json:"no_gpu_reason,omitempty"`
	CPUCores        int      `json:"cpu_cores"`
	MemoryTotal     uint64   `json:"memory_total"`     // bytes
	MemoryAvailable uint64   `json:"memory_available"` // bytes
	DiskFree        uint64   `json:"disk_free"`        // bytes available to this user on RepoDir's file system
	GridQuota       uint64   `json:"grid_quota"`       // bytes the contributor lends to the data grid; 0 = no quota
	Warnings        []string `json:"warnings,omitempty"`
}

// Options configure Run.
type Options struct {
	RepoDir   string // whose file system DiskFree measures; "" = the working directory
	GridQuota uint64 // copied into Probe.GridQuota
	NVML      NVML   // nil = the real NVML library
}

// meminfoPath is where Linux reports memory.
const meminfoPath = "/proc/meminfo"

// Run probes the machine once. A machine without a usable NVIDIA driver is
// not an error: the probe has no GPUs and NoGPUReason says why. Run fails
// only when the repo dir cannot be measured, NVML breaks after it started,
// or ctx ends.
func Run(ctx context.Context, o Options) (Probe, error) {
	if err := ctx.Err(); err != nil {
		return Probe{}, fmt.Errorf("probe the machine: %w", err)
	}
	p := Probe{CPUCores: runtime.NumCPU(), GridQuota: o.GridQuota}
	total, avail, err := readMeminfo(meminfoPath)
	if err != nil {
		p.Warnings = append(p.Warnings, "memory unknown: "+err.Error())
	}
	p.MemoryTotal, p.MemoryAvailable = total, avail
	dir := o.RepoDir
	if dir == "" {
		dir = "."
	}
	if p.DiskFree, err = diskFree(dir); err != nil {
		return Probe{}, fmt.Errorf("probe free disk space of %s: %w: check that the repo dir exists (gridswarm init)", dir, err)
	}

	s := NewSampler(o.NVML)
	st, err := s.Sample(ctx)
	if cerr := s.Close(); cerr != nil {
		st.Warnings = append(st.Warnings, cerr.Error()) // what was read still holds
	}
	if err != nil {
		return Probe{}, err
	}
	p.GPUs, p.Driver, p.CUDA, p.NoGPUReason = st.GPUs, st.Driver, st.CUDA, st.NoGPUReason
	if p.GPUs == nil {
		p.GPUs = []GPU{} // "gpus": [] in JSON, not null
	}
	p.Warnings = append(p.Warnings, st.Warnings...)
	return p, nil
}

// Sampler reads the GPUs repeatedly through one NVML session, so periodic
// idle sampling does not pay for nvmlInit (which can take a second on a
// machine without the persistence daemon) on every sample. It is safe for
// concurrent use.
type Sampler struct {
	mu  sync.Mutex
	src gpuSource
}

// gpuSource is the build-specific GPU reader: NVML with cgo on Linux,
// nothing elsewhere.
type gpuSource interface {
	sample(ctx context.Context) (GPUState, error)
	close() error
}

// NewSampler returns a Sampler over lib; nil means the real NVML library.
// Nothing is loaded until the first Sample.
func NewSampler(lib NVML) *Sampler {
	return &Sampler{src: newGPUSource(lib)}
}

// Sample reads every GPU. Without a usable driver it returns a state with
// no GPUs and NoGPUReason set, and tries again on the next call, so a driver
// installed later is picked up.
func (s *Sampler) Sample(ctx context.Context) (GPUState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return GPUState{}, fmt.Errorf("sample GPUs: %w", err)
	}
	return s.src.sample(ctx)
}

// Close ends the NVML session, if one is open.
func (s *Sampler) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.src.close()
}
