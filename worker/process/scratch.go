package process

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// maxOutputEntries caps the files and folders a tasklet may leave in out/.
const maxOutputEntries = 10000

// scratch is one run's private directory.
type scratch struct {
	dir, in, out, tmp string
}

// newScratch makes a fresh scratch dir under root and copies the inputs
// into in/, read-only. On error nothing is left behind.
func newScratch(root string, inputs map[string]string) (scratch, error) {
	dir, err := os.MkdirTemp(root, "gridswarm-tasklet-")
	if err != nil {
		return scratch{}, fmt.Errorf("make scratch dir under %s: %w: check worker.process.scratch_root", root, err)
	}
	sc := scratch{dir: dir, in: filepath.Join(dir, "in"), out: filepath.Join(dir, "out"), tmp: filepath.Join(dir, "tmp")}
	if err := sc.fill(inputs); err != nil {
		return scratch{}, errors.Join(err, forceRemove(dir))
	}
	return sc, nil
}

func (sc scratch) fill(inputs map[string]string) error {
	for _, d := range []string{sc.in, sc.out, sc.tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return fmt.Errorf("make scratch dir: %w", err)
		}
	}
	names := make([]string, 0, len(inputs))
	for name := range inputs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := copyReadOnly(inputs[name], filepath.Join(sc.in, name)); err != nil {
			return fmt.Errorf("lay out input %s: %w", name, err)
		}
	}
	// A reminder more than a barrier: the command owns the dir and could
	// chmod it back. The copies are what keep the host files safe.
	return os.Chmod(sc.in, 0o500)
}

// copyReadOnly copies the regular file src to a new file dst with mode
// 0444. Copies, not hard links: a hard link shares the inode, so a command
// running as the same user could chmod it and change the host's file.
// On Linux io.Copy between files uses copy_file_range, which is fast and
// shares extents on file systems that can.
func copyReadOnly(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	return out.Close()
}

// env is the child's whole environment: nothing comes from the daemon's.
func (sc scratch) env(seed uint64, gpus []int) []string {
	ids := make([]string, len(gpus))
	for i, g := range gpus {
		ids[i] = strconv.Itoa(g)
	}
	return []string{
		"PATH=" + safePath,
		"HOME=" + sc.dir,
		"TMPDIR=" + sc.tmp,
		"LANG=C.UTF-8",
		"GRIDSWARM_IN=" + sc.in,
		"GRIDSWARM_OUT=" + sc.out,
		"GRIDSWARM_SEED=" + strconv.FormatUint(seed, 10),
		// CUDA numbers GPUs fastest first unless told otherwise; NVML and
		// worker.process.gpus number them by PCI bus.
		"CUDA_DEVICE_ORDER=PCI_BUS_ID",
		"CUDA_VISIBLE_DEVICES=" + strings.Join(ids, ","),
		"PYTHONHASHSEED=0",
	}
}

// checkOutput accepts out/ when it holds only regular files and folders,
// at most maxEntries of them, totalling at most max bytes. Symlinks and
// the like are refused: the caller would otherwise follow them out of the
// scratch dir when it stores the output.
func checkOutput(dir string, max int64) error {
	var total int64
	entries := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if entries++; entries > maxOutputEntries {
			return fmt.Errorf("%w: more than %d files and folders in out/", ErrOutputTooLarge, maxOutputEntries)
		}
		switch {
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("%w: out/%s is a %v", ErrBadOutput, rel, d.Type())
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if total += info.Size(); total > max {
			return fmt.Errorf("%w: out/ holds over %d bytes: raise worker.process.max_output_bytes or write less", ErrOutputTooLarge, max)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check tasklet output: %w", err)
	}
	return nil
}

// forceRemove deletes dir even where the command left folders without
// write permission, which RemoveAll cannot empty when not running as root.
func forceRemove(dir string) error {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(path, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}
