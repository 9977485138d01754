//go:build linux

package cli

import "syscall"

// childProcAttr makes a child daemon receive sig when the CLI process that
// started it dies, even if it is killed (Linux's Pdeathsig).
func childProcAttr(sig syscall.Signal) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: sig}
}
