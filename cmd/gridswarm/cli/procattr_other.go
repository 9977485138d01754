//go:build !linux

package cli

import "syscall"

// childProcAttr returns nil: only Linux can tie a child's life to its parent
// (Pdeathsig). Elsewhere a killed CLI leaves its child daemons running.
func childProcAttr(syscall.Signal) *syscall.SysProcAttr { return nil }
