//go:build cgo && linux

package probe

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/dgxh100"
	"github.com/NVIDIA/go-nvml/pkg/nvml/mock/server"
)

const gib = 1 << 30

// fakeGPU describes one mocked device; a non-zero ret field makes that
// NVML call fail with it.
type fakeGPU struct {
	name, uuid       string
	total, free      uint64
	util, memUtil    uint32
	major, minor     int
	procs            []nvml.ProcessInfo
	uuidRet, utilRet nvml.Return
	procsRet         nvml.Return
}

func (f fakeGPU) device() *mock.Device {
	or := func(r nvml.Return) nvml.Return {
		if r == 0 {
			return nvml.SUCCESS
		}
		return r
	}
	return &mock.Device{
		GetNameFunc: func() (string, nvml.Return) { return f.name, nvml.SUCCESS },
		GetUUIDFunc: func() (string, nvml.Return) { return f.uuid, or(f.uuidRet) },
		GetMemoryInfoFunc: func() (nvml.Memory, nvml.Return) {
			return nvml.Memory{Total: f.total, Free: f.free, Used: f.total - f.free}, nvml.SUCCESS
		},
		GetUtilizationRatesFunc: func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: f.util, Memory: f.memUtil}, or(f.utilRet)
		},
		GetCudaComputeCapabilityFunc: func() (int, int, nvml.Return) { return f.major, f.minor, nvml.SUCCESS },
		GetComputeRunningProcessesFunc: func() ([]nvml.ProcessInfo, nvml.Return) {
			return f.procs, or(f.procsRet)
		},
	}
}

// fakeLib mocks NVML with the given devices; init is what Init returns.
func fakeLib(init nvml.Return, gpus ...fakeGPU) *mock.Interface {
	devs := make([]nvml.Device, len(gpus))
	for i, g := range gpus {
		devs[i] = g.device()
	}
	return &mock.Interface{
		InitFunc:                       func() nvml.Return { return init },
		ShutdownFunc:                   func() nvml.Return { return nvml.SUCCESS },
		SystemGetDriverVersionFunc:     func() (string, nvml.Return) { return "550.54.15", nvml.SUCCESS },
		SystemGetCudaDriverVersionFunc: func() (int, nvml.Return) { return 12040, nvml.SUCCESS },
		DeviceGetCountFunc:             func() (int, nvml.Return) { return len(devs), nvml.SUCCESS },
		DeviceGetHandleByIndexFunc: func(i int) (nvml.Device, nvml.Return) {
			if i < 0 || i >= len(devs) {
				return nil, nvml.ERROR_INVALID_ARGUMENT
			}
			return devs[i], nvml.SUCCESS
		},
	}
}

var (
	idleH100 = fakeGPU{name: "NVIDIA H100 80GB HBM3", uuid: "GPU-aaaa", total: 80 * gib, free: 79 * gib,
		util: 0, memUtil: 0, major: 9, minor: 0}
	busy4090 = fakeGPU{name: "NVIDIA GeForce RTX 4090", uuid: "GPU-bbbb", total: 24 * gib, free: 20 * gib,
		util: 73, memUtil: 41, major: 8, minor: 9,
		procs: []nvml.ProcessInfo{{Pid: 4242, UsedGpuMemory: 3 * gib}, {Pid: 77, UsedGpuMemory: ^uint64(0)}}}
)

func TestRunWithMockNVML(t *testing.T) {
	lost := busy4090
	lost.uuidRet = nvml.ERROR_GPU_IS_LOST
	blind := idleH100
	blind.utilRet, blind.procsRet = nvml.ERROR_NOT_SUPPORTED, nvml.ERROR_NOT_SUPPORTED
	wantH100 := GPU{Index: 0, Name: "NVIDIA H100 80GB HBM3", UUID: "GPU-aaaa", MemoryTotal: 80 * gib,
		MemoryFree: 79 * gib, ComputeCapability: "9.0"}
	want4090 := GPU{Index: 1, Name: "NVIDIA GeForce RTX 4090", UUID: "GPU-bbbb", MemoryTotal: 24 * gib,
		MemoryFree: 20 * gib, UtilizationGPU: 73, UtilizationMem: 41, ComputeCapability: "8.9",
		Processes: []GPUProcess{{PID: 4242, UsedMemory: 3 * gib}, {PID: 77, UsedMemory: 0}}}
	blindGPU := wantH100
	blindGPU.Unwatched = true

	tests := []struct {
		name       string
		lib        *mock.Interface
		wantGPUs   []GPU
		wantDriver string
		wantReason string
		wantWarn   []string // substrings, one per warning
		shutdowns  int
	}{
		{name: "two GPUs, one busy with a foreign process", lib: fakeLib(nvml.SUCCESS, idleH100, busy4090),
			wantGPUs: []GPU{wantH100, want4090}, wantDriver: "550.54.15", shutdowns: 1},
		{name: "library not found", lib: fakeLib(nvml.ERROR_LIBRARY_NOT_FOUND, idleH100),
			wantGPUs: []GPU{}, wantReason: "NVML library not found: no NVIDIA driver"},
		{name: "driver not loaded", lib: fakeLib(nvml.ERROR_DRIVER_NOT_LOADED),
			wantGPUs: []GPU{}, wantReason: "NVIDIA driver not loaded: NVML is installed but the kernel module is not (check with nvidia-smi)"},
		{name: "driver but no GPU", lib: fakeLib(nvml.SUCCESS),
			wantGPUs: []GPU{}, wantDriver: "550.54.15", wantReason: "NVIDIA driver 550.54.15 reports no GPU", shutdowns: 1},
		{name: "a lost GPU is left out", lib: fakeLib(nvml.SUCCESS, idleH100, lost),
			wantGPUs: []GPU{wantH100}, wantDriver: "550.54.15", wantWarn: []string{"GPU1 left out: get UUID: ERROR_GPU_IS_LOST"}, shutdowns: 1},
		{name: "no utilisation and no process list", lib: fakeLib(nvml.SUCCESS, blind),
			wantGPUs: []GPU{blindGPU}, wantDriver: "550.54.15", shutdowns: 1,
			wantWarn: []string{"GPU0: utilisation unknown: ERROR_NOT_SUPPORTED", "GPU0: compute processes unknown: ERROR_NOT_SUPPORTED"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Run(context.Background(), Options{RepoDir: t.TempDir(), GridQuota: 7 * gib, NVML: tc.lib})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !reflect.DeepEqual(p.GPUs, tc.wantGPUs) {
				t.Errorf("GPUs:\n got %+v\nwant %+v", p.GPUs, tc.wantGPUs)
			}
			if p.Driver != tc.wantDriver || p.NoGPUReason != tc.wantReason {
				t.Errorf("Driver, NoGPUReason = %q, %q; want %q, %q", p.Driver, p.NoGPUReason, tc.wantDriver, tc.wantReason)
			}
			if tc.wantDriver != "" && p.CUDA != "12.4" {
				t.Errorf("CUDA = %q, want 12.4", p.CUDA)
			}
			if p.GridQuota != 7*gib {
				t.Errorf("GridQuota = %d, want %d", p.GridQuota, 7*gib)
			}
			checkWarnings(t, p.Warnings, tc.wantWarn)
			if got := len(tc.lib.ShutdownCalls()); got != tc.shutdowns {
				t.Errorf("Shutdown called %d times, want %d", got, tc.shutdowns)
			}
		})
	}
}

// checkWarnings wants one warning containing each of want, ignoring the
// memory warning of machines without /proc/meminfo.
func checkWarnings(t *testing.T, got, want []string) {
	t.Helper()
	var gpuWarns []string
	for _, w := range got {
		if !strings.HasPrefix(w, "memory unknown") {
			gpuWarns = append(gpuWarns, w)
		}
	}
	if len(gpuWarns) != len(want) {
		t.Fatalf("warnings = %q, want %d containing %q", gpuWarns, len(want), want)
	}
	for i := range want {
		if !strings.Contains(gpuWarns[i], want[i]) {
			t.Errorf("warning %d = %q, want it to contain %q", i, gpuWarns[i], want[i])
		}
	}
}

func TestRunCountFailsAfterInit(t *testing.T) {
	lib := fakeLib(nvml.SUCCESS, idleH100)
	lib.DeviceGetCountFunc = func() (int, nvml.Return) { return 0, nvml.ERROR_UNKNOWN }
	_, err := Run(context.Background(), Options{RepoDir: t.TempDir(), NVML: lib})
	if err == nil || !strings.Contains(err.Error(), "count GPUs through NVML: ERROR_UNKNOWN") {
		t.Fatalf("Run err = %v, want the count failure", err)
	}
	if got := len(lib.ShutdownCalls()); got != 1 {
		t.Errorf("Shutdown called %d times, want 1", got)
	}
}

func TestSamplerKeepsSessionOpen(t *testing.T) {
	tests := []struct {
		name                 string
		init                 nvml.Return
		wantInits, wantShuts int
	}{
		{"driver present: one Init for all samples", nvml.SUCCESS, 1, 1},
		{"no driver: every sample tries again", nvml.ERROR_LIBRARY_NOT_FOUND, 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lib := fakeLib(tc.init, idleH100)
			s := NewSampler(lib)
			for range 3 {
				if _, err := s.Sample(context.Background()); err != nil {
					t.Fatalf("Sample: %v", err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if got := len(lib.InitCalls()); got != tc.wantInits {
				t.Errorf("Init called %d times, want %d", got, tc.wantInits)
			}
			if got := len(lib.ShutdownCalls()); got != tc.wantShuts {
				t.Errorf("Shutdown called %d times, want %d", got, tc.wantShuts)
			}
		})
	}
}

func TestSamplerCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lib := fakeLib(nvml.SUCCESS, idleH100)
	if _, err := NewSampler(lib).Sample(ctx); err == nil {
		t.Fatal("Sample with a canceled context succeeded")
	}
	if got := len(lib.InitCalls()); got != 0 {
		t.Errorf("Init called %d times after cancel, want 0", got)
	}
}

// TestDGXH100 reads go-nvml's model of a DGX H100 (eight GPUs), with
// utilisation and processes added, since that mock leaves them out.
func TestDGXH100(t *testing.T) {
	srv := dgxh100.New()
	for i, d := range srv.Devices {
		dev := d.(*server.Device)
		dev.GetUtilizationRatesFunc = func() (nvml.Utilization, nvml.Return) {
			return nvml.Utilization{Gpu: uint32(10 * i)}, nvml.SUCCESS
		}
		dev.GetComputeRunningProcessesFunc = func() ([]nvml.ProcessInfo, nvml.Return) { return nil, nvml.SUCCESS }
	}
	p, err := Run(context.Background(), Options{RepoDir: t.TempDir(), NVML: srv})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(p.GPUs) != 8 || p.Driver != "550.54.15" || p.CUDA != "12.4" || p.NoGPUReason != "" {
		t.Fatalf("got %d GPUs, driver %q, CUDA %q, reason %q; want 8, 550.54.15, 12.4, none",
			len(p.GPUs), p.Driver, p.CUDA, p.NoGPUReason)
	}
	uuids := map[string]bool{}
	for i, g := range p.GPUs {
		if g.Index != i || g.Name != "NVIDIA H100 80GB HBM3" || g.ComputeCapability != "9.0" ||
			g.MemoryTotal == 0 || g.UtilizationGPU != uint32(10*i) {
			t.Errorf("GPU %d = %+v, want an H100 80GB, compute 9.0, %d%% busy", i, g, 10*i)
		}
		uuids[g.UUID] = true
	}
	if len(uuids) != 8 {
		t.Errorf("%d distinct UUIDs, want 8", len(uuids))
	}
}

func TestRunShutdownFailureIsAWarning(t *testing.T) {
	lib := fakeLib(nvml.SUCCESS, idleH100)
	lib.ShutdownFunc = func() nvml.Return { return nvml.ERROR_UNKNOWN }
	p, err := Run(context.Background(), Options{RepoDir: t.TempDir(), NVML: lib})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(p.GPUs) != 1 {
		t.Errorf("%d GPUs, want the one read before the failed shutdown", len(p.GPUs))
	}
	checkWarnings(t, p.Warnings, []string{"shut NVML down: ERROR_UNKNOWN"})
}
