package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// cpuProfileEnv names the variable that makes the daemon write a CPU
// profile (go tool pprof) until it stops: a file, or a folder that gets
// cpu-<pid>.pprof so the demo's daemons, which share the variable, do not
// overwrite each other's. It is for finding where a swarm's time goes.
const cpuProfileEnv = "GRIDSWARM_CPUPROFILE"

// startCPUProfile starts the profile $GRIDSWARM_CPUPROFILE asks for and
// returns what stops it; with the variable unset it does nothing.
func startCPUProfile(getenv func(string) string) (stop func() error, err error) {
	path := getenv(cpuProfileEnv)
	if path == "" {
		return func() error { return nil }, nil
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, fmt.Sprintf("cpu-%d.pprof", os.Getpid()))
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot create the CPU profile: %w", cpuProfileEnv, err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: cannot start the CPU profile: %w", cpuProfileEnv, err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("cannot write the CPU profile %s: %w", path, err)
		}
		return nil
	}, nil
}
