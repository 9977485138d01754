package node

import (
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/worker"
	"github.com/gridswarm/gridswarm/worker/probe"
	"github.com/gridswarm/gridswarm/worker/process"
	"github.com/gridswarm/gridswarm/worker/wasm"
)

// workerConfig maps config.toml's [worker] onto the worker package.
// [worker.fault] reaches it only from a config that passed Validate, which
// refuses it outside the local profile.
func workerConfig(c config.Worker) worker.Config {
	return worker.Config{
		Fault:        faultConfig(c.Fault),
		Enabled:      c.Enabled,
		Executors:    c.Executors,
		PricePerHour: c.PricePerHour,
		Idle: probe.IdlePolicy{
			MaxUtilization: uint32(c.MaxUtilization),
			QuietFor:       c.QuietFor.Duration,
			Hours:          c.Hours,
			MaxConcurrent:  c.MaxConcurrent,
		},
		TrainerWorkers: c.TrainerWorkers,
		OutputTTL:      c.OutputTTL.Duration,
		Wasm:           wasm.Options{MemoryLimitPages: uint32(c.Wasm.MemoryMB * 16), Timeout: c.Wasm.Timeout.Duration},
		Process: process.Config{
			Enabled:      c.Process.Enabled,
			Allow:        c.Process.Allow,
			Timeout:      c.Process.Timeout.Duration,
			CPUSeconds:   c.Process.CPUSeconds,
			MemoryBytes:  c.Process.MemoryMB << 20,
			GPUs:         c.Process.GPUs,
			Runtime:      c.Process.Runtime,
			MaxProcesses: c.Process.MaxProcesses,
			CPUs:         c.Process.CPUs,
			CgroupRoot:   c.Process.CgroupRoot,
		},
	}
}

// faultConfig maps [worker.fault]; absent means an honest worker.
func faultConfig(f *config.Fault) worker.FaultConfig {
	if f == nil {
		return worker.FaultConfig{}
	}
	c := worker.FaultConfig{Kind: f.Kind, Group: f.Group}
	if f.Seed != nil {
		s := uint64(*f.Seed)
		c.Seed = &s
	}
	if f.Rate != nil {
		c.Rate = *f.Rate
	}
	return c
}
