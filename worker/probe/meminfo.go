package probe

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// maxMeminfo caps how much of /proc/meminfo is read; the file is about 1.5 KiB.
const maxMeminfo = 64 << 10

// readMeminfo returns MemTotal and MemAvailable from a meminfo file, in bytes.
func readMeminfo(path string) (total, avail uint64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return parseMeminfo(io.LimitReader(f, maxMeminfo))
}

// parseMeminfo reads lines like "MemTotal:       16318480 kB". Kernels
// before 3.14 lack MemAvailable; MemFree stands in for it there.
func parseMeminfo(r io.Reader) (total, avail uint64, err error) {
	var free uint64
	var haveTotal, haveAvail bool
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "MemTotal" && key != "MemAvailable" && key != "MemFree") {
			continue
		}
		v, err := meminfoBytes(rest)
		if err != nil {
			return 0, 0, fmt.Errorf("meminfo %s: %w", key, err)
		}
		switch key {
		case "MemTotal":
			total, haveTotal = v, true
		case "MemAvailable":
			avail, haveAvail = v, true
		case "MemFree":
			free = v
		}
	}
	if err := sc.Err(); err != nil {
		return 0, 0, fmt.Errorf("read meminfo: %w", err)
	}
	if !haveTotal {
		return 0, 0, fmt.Errorf("meminfo has no MemTotal line")
	}
	if !haveAvail {
		avail = free
	}
	return total, avail, nil
}

// meminfoBytes parses " 16318480 kB" (the kernel's kB are KiB) or a bare number.
func meminfoBytes(s string) (uint64, error) {
	f := strings.Fields(s)
	if len(f) == 0 || len(f) > 2 || (len(f) == 2 && f[1] != "kB") {
		return 0, fmt.Errorf("want a number of kB, got %q", strings.TrimSpace(s))
	}
	v, err := strconv.ParseUint(f[0], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("want a number of kB, got %q", strings.TrimSpace(s))
	}
	if len(f) == 1 {
		return v, nil
	}
	if v > (1<<64-1)/1024 {
		return 0, fmt.Errorf("%d kB overflows", v)
	}
	return v * 1024, nil
}
