package wasm

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkDirs validates a task's directories before a run: both exist, the
// output directory is empty, neither lies inside the other (the guest
// could otherwise write to its inputs through /out) and the inputs hold
// only regular files and directories.
func checkDirs(inputDir, outputDir string) error {
	in, err := realDir("input", inputDir)
	if err != nil {
		return err
	}
	out, err := realDir("output", outputDir)
	if err != nil {
		return err
	}
	if within(in, out) || within(out, in) {
		return fmt.Errorf("%w: input directory %s and output directory %s overlap; give the tasklet separate directories",
			ErrBadTask, inputDir, outputDir)
	}
	if err := checkEmpty(outputDir); err != nil {
		return err
	}
	return checkInputs(inputDir)
}

// realDir resolves dir to an absolute path without symlinks and checks it
// is a directory.
func realDir(what, dir string) (string, error) {
	if dir == "" {
		return "", fmt.Errorf("%w: no %s directory given", ErrBadTask, what)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%w: resolve %s directory %s: %v", ErrBadTask, what, dir, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("%w: resolve %s directory %s: %v", ErrBadTask, what, dir, err)
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%w: stat %s directory %s: %v", ErrBadTask, what, dir, err)
	}
	if !st.IsDir() {
		return "", fmt.Errorf("%w: %s directory %s is not a directory", ErrBadTask, what, dir)
	}
	return real, nil
}

// within reports whether path is dir or below it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func checkEmpty(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("%w: open output directory: %v", ErrBadTask, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: list output directory %s: %v", ErrBadTask, dir, err)
	}
	if len(names) > 0 {
		return fmt.Errorf("%w: output directory %s is not empty (holds %q); give each run a fresh one",
			ErrBadTask, dir, names[0])
	}
	return nil
}

// checkInputs refuses symlinks and special files among the inputs: the
// read-only mount follows symlinks, so one would expose whatever it
// points at, and a FIFO or device could block or leak.
func checkInputs(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("%w: read input directory: %v", ErrBadTask, err)
		}
		if t := d.Type(); t&fs.ModeSymlink != 0 || !(t.IsRegular() || t.IsDir()) {
			return fmt.Errorf("%w: input %s is a %s; copy inputs in as regular files",
				ErrBadTask, p, kind(t))
		}
		return nil
	})
}

// measureOutput walks /out after a run: it must hold only regular files and
// directories, within the size cap. It returns the total size of the files.
func measureOutput(dir string, maxBytes int64) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("read output directory: %w", err)
		}
		t := d.Type()
		if t.IsDir() {
			return nil
		}
		if !t.IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			return fmt.Errorf("%w: /out/%s is a %s; a tasklet may only leave regular files and directories",
				ErrUnsafeOutput, filepath.ToSlash(rel), kind(t))
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat output %s: %w", p, err)
		}
		total += info.Size()
		if total > maxBytes {
			return fmt.Errorf("%w: /out holds more than the %s limit; write less output",
				ErrOutputTooLarge, byteSize(uint64(maxBytes)))
		}
		return nil
	})
	return total, err
}

func kind(t fs.FileMode) string {
	switch {
	case t&fs.ModeSymlink != 0:
		return "symlink"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeDevice != 0:
		return "device"
	default:
		return "special file"
	}
}
