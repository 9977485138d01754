package process

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A tasklet's memory, process count and CPU bandwidth are limited for its
// whole process tree by a cgroup of its own, made in the first of these
// that works:
//
//   - cgroup v2, the unified hierarchy at /sys/fs/cgroup (or the delegated
//     folder in Config.CgroupRoot): one group per tasklet with memory.max,
//     memory.swap.max, pids.max and cpu.max;
//   - cgroup v1 controllers memory, pids (both required) and cpu, each under
//     the daemon's own group, so tasklets count within the daemon's limits.
//
// systemd-run --scope would do the same through systemd; it needs systemd
// as PID 1, and writing the cgroup files directly needs only write access
// to them. Without either (an unprivileged daemon with nothing delegated)
// the executor falls back to per-process rlimits, which do not cover the
// whole tree: Executor.Isolation says which applies.

// cgroupLimits is what one tasklet's group enforces; zero means none.
type cgroupLimits struct {
	memory    uint64
	processes int
	cpus      float64
}

// cgroupRoot is where tasklet groups are made.
type cgroupRoot struct {
	v2   bool
	dirs map[string]string // v1: controller → parent folder; v2: "" → parent folder
}

// describe says in words what the root is, for logs and errors.
func (r *cgroupRoot) describe() string {
	if r == nil {
		return "rlimits per process (no writable cgroup)"
	}
	if r.v2 {
		return "cgroup v2 at " + r.dirs[""]
	}
	var parts []string
	for _, c := range []string{"memory", "pids", "cpu"} {
		if d, ok := r.dirs[c]; ok {
			parts = append(parts, d)
		}
	}
	return "cgroup v1 at " + strings.Join(parts, ", ")
}

// findCgroupRoot picks the cgroup tasklets run in, making its parent
// folder "gridswarm" as needed; nil when none is writable.
func findCgroupRoot(configured string) (*cgroupRoot, error) {
	if configured != "" {
		r, err := cgroupV2Root(configured)
		if err != nil {
			return nil, fmt.Errorf("worker.process.cgroup_root %s: %w", configured, err)
		}
		return r, nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		if r, err := cgroupV2Root("/sys/fs/cgroup/gridswarm"); err == nil {
			return r, nil
		}
	}
	return cgroupV1Root(), nil
}

// cgroupV2Root prepares dir as a v2 parent with memory, pids and cpu
// delegated to its children.
func cgroupV2Root(dir string) (*cgroupRoot, error) {
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	ctl, err := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("not a cgroup v2 folder: %w", err)
	}
	for _, c := range []string{"memory", "pids"} {
		if !bytes.Contains(ctl, []byte(c)) {
			if err := os.WriteFile(filepath.Join(filepath.Dir(dir), "cgroup.subtree_control"), []byte("+"+c), 0); err != nil {
				return nil, fmt.Errorf("controller %s is not available: %w", c, err)
			}
		}
	}
	for _, c := range []string{"memory", "pids", "cpu"} {
		err := os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+"+c), 0)
		if err != nil && c != "cpu" {
			return nil, fmt.Errorf("cannot delegate %s: %w", c, err)
		}
	}
	return &cgroupRoot{v2: true, dirs: map[string]string{"": dir}}, nil
}

// cgroupV1Root finds writable v1 memory and pids hierarchies (and cpu if
// there is one) and makes gridswarm/ under the daemon's group in each.
func cgroupV1Root() *cgroupRoot {
	own := ownV1Groups()
	dirs := map[string]string{}
	for _, c := range []string{"memory", "pids", "cpu", "cpuacct"} {
		base := filepath.Join("/sys/fs/cgroup", c)
		if _, err := os.Stat(filepath.Join(base, "cgroup.procs")); err != nil {
			continue
		}
		d := filepath.Join(base, own[c], "gridswarm")
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			continue
		}
		dirs[c] = d
	}
	if dirs["memory"] == "" || dirs["pids"] == "" {
		return nil
	}
	return &cgroupRoot{dirs: dirs}
}

// ownV1Groups maps each v1 controller to the daemon's group in it, from
// /proc/self/cgroup lines such as "4:memory:/some/path".
func ownV1Groups() map[string]string {
	out := map[string]string{}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			out[c] = parts[2]
		}
	}
	return out
}

// cgroup is one tasklet's group.
type cgroup struct {
	v2   bool
	dirs map[string]string // as in cgroupRoot
}

// create makes the group called name with limits l.
func (r *cgroupRoot) create(name string, l cgroupLimits) (*cgroup, error) {
	g := &cgroup{v2: r.v2, dirs: map[string]string{}}
	for c, parent := range r.dirs {
		d := filepath.Join(parent, name)
		if err := os.Mkdir(d, 0o755); err != nil {
			_ = g.remove(context.Background())
			return nil, fmt.Errorf("make cgroup %s: %w", d, err)
		}
		g.dirs[c] = d
	}
	if err := g.limit(l); err != nil {
		_ = g.remove(context.Background())
		return nil, err
	}
	return g, nil
}

// dir returns the folder holding controller c's files.
func (g *cgroup) dir(c string) (string, bool) {
	if g.v2 {
		return g.dirs[""], true
	}
	d, ok := g.dirs[c]
	return d, ok
}

func (g *cgroup) write(c, file, value string) error {
	d, ok := g.dir(c)
	if !ok {
		return nil
	}
	if err := os.WriteFile(filepath.Join(d, file), []byte(value), 0); err != nil {
		return fmt.Errorf("set %s to %s: %w", file, value, err)
	}
	return nil
}

func (g *cgroup) limit(l cgroupLimits) error {
	var errs []error
	if l.memory > 0 {
		m := strconv.FormatUint(l.memory, 10)
		if g.v2 {
			errs = append(errs, g.write("memory", "memory.max", m), g.write("memory", "memory.swap.max", "0"))
		} else {
			errs = append(errs, g.write("memory", "memory.limit_in_bytes", m))
			if d, _ := g.dir("memory"); fileExists(filepath.Join(d, "memory.memsw.limit_in_bytes")) {
				errs = append(errs, g.write("memory", "memory.memsw.limit_in_bytes", m))
			}
		}
	}
	if l.processes > 0 {
		errs = append(errs, g.write("pids", "pids.max", strconv.Itoa(l.processes)))
	}
	if l.cpus > 0 {
		const period = 100000
		quota := strconv.Itoa(int(l.cpus * period))
		if g.v2 {
			errs = append(errs, g.write("cpu", "cpu.max", quota+" "+strconv.Itoa(period)))
		} else {
			errs = append(errs, g.write("cpu", "cpu.cfs_period_us", strconv.Itoa(period)), g.write("cpu", "cpu.cfs_quota_us", quota))
		}
	}
	return errors.Join(errs...)
}

// add moves pid (and the threads of its process) into the group.
func (g *cgroup) add(pid int) error {
	for _, d := range g.dirs {
		if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move process %d into %s: %w", pid, d, err)
		}
	}
	return nil
}

// limitsHit reads the group's counters: kills by the out-of-memory killer
// and forks refused at pids.max.
func (g *cgroup) limitsHit() (oomKills, forksRefused uint64) {
	if d, ok := g.dir("memory"); ok {
		file := "memory.oom_control"
		if g.v2 {
			file = "memory.events"
		}
		oomKills = counter(filepath.Join(d, file), "oom_kill")
	}
	if d, ok := g.dir("pids"); ok {
		forksRefused = counter(filepath.Join(d, "pids.events"), "max")
	}
	return oomKills, forksRefused
}

// cpuTime is the CPU time the group's processes used.
func (g *cgroup) cpuTime() (time.Duration, bool) {
	if g.v2 {
		us := counter(filepath.Join(g.dirs[""], "cpu.stat"), "usage_usec")
		return time.Duration(us) * time.Microsecond, us > 0
	}
	d, ok := g.dirs["cpuacct"]
	if !ok {
		return 0, false
	}
	b, err := os.ReadFile(filepath.Join(d, "cpuacct.usage"))
	if err != nil {
		return 0, false
	}
	ns, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(ns), err == nil
}

// counter reads the value of key from a cgroup file of "key value" lines.
func counter(path, key string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == key {
			n, _ := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			return n
		}
	}
	return 0
}

// remove kills whatever is left in the group, waits until it is empty
// (polling, at most until ctx ends or five seconds pass) and deletes it.
func (g *cgroup) remove(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var errs []error
	for _, d := range g.dirs {
		for {
			pids := procsIn(d)
			if len(pids) == 0 {
				break
			}
			for _, p := range pids {
				_ = unix.Kill(p, unix.SIGKILL)
			}
			select {
			case <-ctx.Done():
				errs = append(errs, fmt.Errorf("cgroup %s still holds processes %v: %w", d, pids, ctx.Err()))
			case <-time.After(5 * time.Millisecond): // let the kernel reap them
				continue
			}
			break
		}
		// rmdir fails with EBUSY for a moment after the last process exits.
		for {
			err := unix.Rmdir(d)
			if err == nil || errors.Is(err, unix.ENOENT) {
				break
			}
			if !errors.Is(err, unix.EBUSY) || ctx.Err() != nil {
				errs = append(errs, fmt.Errorf("remove cgroup %s: %w", d, err))
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return errors.Join(errs...)
}

// procsIn lists the processes in cgroup folder d.
func procsIn(d string) []int {
	b, err := os.ReadFile(filepath.Join(d, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
