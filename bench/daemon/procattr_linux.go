package main

import (
	"fmt"
	"syscall"
	"unsafe"
)

// childAttr makes a daemon die with the benchmark, so an interrupted run
// leaves no daemon behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// setLinkUp brings a network interface up, as `ip link set NAME up` does,
// for machines that lack iproute2.
func setLinkUp(name string) error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("cannot open a socket to configure %s: %w", name, err)
	}
	defer syscall.Close(fd)
	// struct ifreq: a 16-byte name, then the flags as a short.
	var req struct {
		name  [syscall.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	ioctl := func(op uintptr) error {
		if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), op, uintptr(unsafe.Pointer(&req))); errno != 0 {
			return errno
		}
		return nil
	}
	if err := ioctl(syscall.SIOCGIFFLAGS); err != nil {
		return fmt.Errorf("cannot read the flags of %s: %w", name, err)
	}
	req.flags |= syscall.IFF_UP
	if err := ioctl(syscall.SIOCSIFFLAGS); err != nil {
		return fmt.Errorf("cannot bring %s up (needs CAP_NET_ADMIN in this namespace): %w", name, err)
	}
	return nil
}
