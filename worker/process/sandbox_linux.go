package process

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Paths inside the sandbox. The scratch folder is mounted at one fixed
// place, so a program sees the same paths on every worker.
const (
	sandboxHome = "/tasklet"
	sandboxIn   = sandboxHome + "/in"
	sandboxOut  = sandboxHome + "/out"
	sandboxTmp  = sandboxHome + "/tmp"
)

// DefaultRuntime is what a sandboxed command sees of the host when
// Config.Runtime is empty, all read-only: the system's programs and
// libraries (a Debian python3 with python3-torch lives entirely in /usr)
// and the dynamic linker's cache. Paths the host lacks are left out; the
// merged-/usr symlinks (/bin → usr/bin) are recreated as symlinks.
var DefaultRuntime = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache", "/etc/alternatives"}

// nvidiaControl are the device nodes every CUDA program opens besides its
// GPUs' /dev/nvidiaN; they are added only when a GPU is lent.
var nvidiaControl = []string{"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"}

// findBwrap returns the bubblewrap binary to use.
func findBwrap(configured string) (string, error) {
	if configured != "" {
		if !filepath.IsAbs(configured) {
			return "", fmt.Errorf("worker.process.bwrap %q: want an absolute path", configured)
		}
		if _, err := exec.LookPath(configured); err != nil {
			return "", fmt.Errorf("worker.process.bwrap %q: %w", configured, err)
		}
		return configured, nil
	}
	p, err := lookPath("bwrap")
	if err != nil {
		return "", fmt.Errorf("the process executor runs commands in a bubblewrap sandbox, and bwrap is not installed (%w): apt-get install bubblewrap", err)
	}
	return p, nil
}

// checkRuntime cleans the runtime list and checks that every allowlisted
// command lies inside it: a command the sandbox cannot see cannot run.
func checkRuntime(runtime []string, allow []allowed) ([]string, error) {
	if len(runtime) == 0 {
		runtime = DefaultRuntime
	}
	out := make([]string, 0, len(runtime))
	for _, r := range runtime {
		if !filepath.IsAbs(r) || filepath.Clean(r) == "/" {
			return nil, fmt.Errorf("worker.process.runtime %q: want an absolute path other than /", r)
		}
		c := filepath.Clean(r)
		if c == sandboxHome || strings.HasPrefix(c, sandboxHome+"/") || c == "/proc" || c == "/dev" || strings.HasPrefix(c, "/proc/") || strings.HasPrefix(c, "/dev/") {
			return nil, fmt.Errorf("worker.process.runtime %q: the sandbox makes its own %s", r, c)
		}
		out = append(out, c)
	}
	// What each runtime path finally names, for commands found through a symlink.
	var real []string
	for _, r := range out {
		if p, err := filepath.EvalSymlinks(r); err == nil {
			real = append(real, p)
		}
	}
	for _, a := range allow {
		if !under(a.resolved, real) {
			return nil, fmt.Errorf("worker.process.allow %s (%s) is outside worker.process.runtime %v, so a sandboxed tasklet could not run it: add its folder to worker.process.runtime", a.path, a.resolved, out)
		}
	}
	return out, nil
}

// under reports whether path is one of dirs or inside one.
func under(path string, dirs []string) bool {
	for _, d := range dirs {
		if path == d || strings.HasPrefix(path, d+"/") {
			return true
		}
	}
	return false
}

// bwrapArgs is the bubblewrap command line that runs argv in sc:
//
//   - every namespace new (user, pid, network, IPC, UTS, cgroup): no
//     network but a private loopback, no other process visible, pid 1 is
//     bubblewrap's init, which takes every process down with it;
//   - all capabilities dropped, uid and gid 65534 (nobody) inside;
//   - a fresh root holding only the runtime (read-only), a minimal /dev,
//     a private /proc, a tmpfs /tmp and /dev/shm, and the scratch folder
//     at /tasklet with in/ read-only;
//   - GPU device nodes only for the GPUs lent;
//   - killed when the daemon's thread that started it dies.
func bwrapArgs(bwrap string, runtime []string, sc scratch, gpus []int, path string, args []string) []string {
	a := []string{bwrap,
		"--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
		"--uid", "65534", "--gid", "65534", "--hostname", "tasklet",
	}
	for _, r := range runtime {
		fi, err := os.Lstat(r)
		switch {
		case err != nil:
			continue // not on this host
		case fi.Mode()&os.ModeSymlink != 0:
			if target, err := os.Readlink(r); err == nil {
				a = append(a, "--symlink", target, r)
			}
		default:
			a = append(a, "--ro-bind", r, r)
		}
	}
	a = append(a, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm", "--tmpfs", "/tmp")
	if len(gpus) > 0 {
		for _, d := range nvidiaControl {
			a = append(a, "--dev-bind-try", d, d)
		}
		for _, g := range gpus {
			d := "/dev/nvidia" + strconv.Itoa(g)
			a = append(a, "--dev-bind-try", d, d)
		}
	}
	a = append(a, "--bind", sc.dir, sandboxHome, "--ro-bind", sc.in, sandboxIn, "--chdir", sandboxHome, "--", path)
	return append(a, args...)
}

// sandboxEnv is env with the scratch paths as the sandbox sees them.
func (sc scratch) sandboxEnv(seed uint64, gpus []int) []string {
	in := sc.env(seed, gpus)
	repl := strings.NewReplacer(sc.in, sandboxIn, sc.out, sandboxOut, sc.tmp, sandboxTmp)
	out := make([]string, 0, len(in))
	for _, kv := range in {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME":
			v = sandboxHome
		case "TMPDIR", "GRIDSWARM_IN", "GRIDSWARM_OUT":
			v = repl.Replace(v)
		}
		out = append(out, k+"="+v)
	}
	return out
}

// Limits reported from the sandbox's cgroup.
var (
	ErrMemoryLimit  = errors.New("memory limit exceeded: the kernel killed the tasklet")
	ErrProcessLimit = errors.New("process limit reached: the tasklet tried to start more processes than allowed")
)
