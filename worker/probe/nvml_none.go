//go:build !cgo || !linux

package probe

import (
	"context"
	"runtime"
)

// NVML stands in for go-nvml's nvml.Interface, which needs cgo on Linux.
// In this build there is no NVML and the value is ignored.
type NVML = any

// noSource reports that this build cannot see GPUs.
type noSource struct{}

func newGPUSource(NVML) gpuSource { return noSource{} }

func (noSource) sample(context.Context) (GPUState, error) {
	if runtime.GOOS != "linux" {
		return GPUState{NoGPUReason: "GPU discovery through NVML is supported on Linux only"}, nil
	}
	return GPUState{NoGPUReason: "built without cgo: GPU discovery needs a cgo build (CGO_ENABLED=1)"}, nil
}

func (noSource) close() error { return nil }
