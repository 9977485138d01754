//go:build !linux && !darwin && !freebsd

package probe

import (
	"fmt"
	"runtime"
)

// diskFree is not implemented here: gridswarm contributors run Linux.
func diskFree(dir string) (uint64, error) {
	return 0, fmt.Errorf("measuring free disk space is not supported on %s", runtime.GOOS)
}
