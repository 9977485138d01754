//go:build cgo && linux

// go-nvml is cgo only (every file of pkg/nvml imports "C") and dlopens
// libnvidia-ml.so.1, which NVIDIA ships for Linux only.

package probe

import (
	"context"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
)

// NVML is the NVML library the probe reads GPUs through. In cgo builds on
// Linux it is go-nvml's nvml.Interface, so the real library (nvml.New())
// and the generated mocks (mock.Interface) both fit. The probe calls Init,
// Shutdown, SystemGetDriverVersion, SystemGetCudaDriverVersion,
// DeviceGetCount and DeviceGetHandleByIndex, and on each device GetName,
// GetUUID, GetMemoryInfo, GetUtilizationRates, GetCudaComputeCapability and
// GetComputeRunningProcesses.
type NVML = nvml.Interface

// notAvailable is NVML's NVML_VALUE_NOT_AVAILABLE for 64-bit fields: what
// UsedGpuMemory holds when the driver cannot attribute memory to a process.
const notAvailable = ^uint64(0)

// nvmlSource reads GPUs through one NVML session, opened on first use.
type nvmlSource struct {
	lib          nvml.Interface
	open         bool
	driver, cuda string
}

func newGPUSource(lib NVML) gpuSource {
	if lib == nil {
		lib = nvml.New()
	}
	return &nvmlSource{lib: lib}
}

func (s *nvmlSource) sample(ctx context.Context) (GPUState, error) {
	if !s.open {
		if reason := s.start(); reason != "" {
			return GPUState{NoGPUReason: reason}, nil
		}
	}
	st := GPUState{Driver: s.driver, CUDA: s.cuda}
	n, ret := s.lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		// The driver went away under us: start over on the next sample.
		_ = s.close()
		return GPUState{}, fmt.Errorf("count GPUs through NVML: %w: check the driver with nvidia-smi", ret)
	}
	if n == 0 {
		st.NoGPUReason = fmt.Sprintf("NVIDIA driver %s reports no GPU", s.driver)
		return st, nil
	}
	for i := range n {
		if err := ctx.Err(); err != nil {
			return GPUState{}, fmt.Errorf("sample GPUs: %w", err)
		}
		g, warns, err := readDevice(s.lib, i)
		st.Warnings = append(st.Warnings, warns...)
		if err != nil {
			st.Warnings = append(st.Warnings, fmt.Sprintf("GPU%d left out: %v", i, err))
			continue
		}
		st.GPUs = append(st.GPUs, g)
	}
	if len(st.GPUs) == 0 {
		st.NoGPUReason = fmt.Sprintf("NVML lists %d GPUs but none could be read: see the warnings", n)
	}
	return st, nil
}

// start opens the NVML session. It returns why there is no GPU to use, or
// "" once the session is open.
func (s *nvmlSource) start() string {
	switch ret := s.lib.Init(); ret {
	case nvml.SUCCESS:
	case nvml.ERROR_LIBRARY_NOT_FOUND:
		return "NVML library not found: no NVIDIA driver"
	case nvml.ERROR_DRIVER_NOT_LOADED:
		return "NVIDIA driver not loaded: NVML is installed but the kernel module is not (check with nvidia-smi)"
	case nvml.ERROR_NO_PERMISSION:
		return "no permission to use NVML: check access to /dev/nvidia*"
	default:
		return fmt.Sprintf("NVML did not start: %v: check the driver with nvidia-smi", ret)
	}
	s.open = true
	s.driver, s.cuda = "", ""
	if v, ret := s.lib.SystemGetDriverVersion(); ret == nvml.SUCCESS {
		s.driver = v
	}
	if v, ret := s.lib.SystemGetCudaDriverVersion(); ret == nvml.SUCCESS && v > 0 {
		s.cuda = fmt.Sprintf("%d.%d", v/1000, v%1000/10)
	}
	return ""
}

func (s *nvmlSource) close() error {
	if !s.open {
		return nil
	}
	s.open = false
	if ret := s.lib.Shutdown(); ret != nvml.SUCCESS {
		return fmt.Errorf("shut NVML down: %w", ret)
	}
	return nil
}

// readDevice reads GPU i. Handle, UUID and memory are required: without
// them the GPU cannot be offered, so their failure leaves the GPU out. The
// other fields are reported as warnings and left zero: MIG and some vGPU
// set-ups do not support utilisation, for instance.
func readDevice(lib nvml.Interface, i int) (GPU, []string, error) {
	dev, ret := lib.DeviceGetHandleByIndex(i)
	if ret != nvml.SUCCESS {
		return GPU{}, nil, fmt.Errorf("get handle: %w", ret)
	}
	g := GPU{Index: i}
	var warns []string
	warn := func(what string, ret nvml.Return) {
		warns = append(warns, fmt.Sprintf("GPU%d: %s: %v", i, what, ret))
	}
	if g.UUID, ret = dev.GetUUID(); ret != nvml.SUCCESS {
		return GPU{}, nil, fmt.Errorf("get UUID: %w", ret)
	}
	mem, ret := dev.GetMemoryInfo()
	if ret != nvml.SUCCESS {
		return GPU{}, nil, fmt.Errorf("get memory info: %w", ret)
	}
	g.MemoryTotal, g.MemoryFree = mem.Total, mem.Free
	if g.Name, ret = dev.GetName(); ret != nvml.SUCCESS {
		warn("name unknown", ret)
	}
	u, uret := dev.GetUtilizationRates()
	if uret == nvml.SUCCESS {
		g.UtilizationGPU, g.UtilizationMem = u.Gpu, u.Memory
	} else {
		warn("utilisation unknown", uret)
	}
	if major, minor, ret := dev.GetCudaComputeCapability(); ret == nvml.SUCCESS {
		g.ComputeCapability = fmt.Sprintf("%d.%d", major, minor)
	} else {
		warn("compute capability unknown", ret)
	}
	procs, pret := dev.GetComputeRunningProcesses()
	if pret != nvml.SUCCESS {
		warn("compute processes unknown", pret)
	}
	g.Unwatched = uret != nvml.SUCCESS && pret != nvml.SUCCESS
	for _, p := range procs {
		used := p.UsedGpuMemory
		if used == notAvailable {
			used = 0
		}
		g.Processes = append(g.Processes, GPUProcess{PID: p.Pid, UsedMemory: used})
	}
	return g, warns, nil
}
