package process

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// allowed is one resolved allowlist entry.
type allowed struct {
	name     string // what a task may call it: the entry, or its base name
	path     string // absolute path that runs, as configured or found on safePath
	resolved string // path with symlinks evaluated, fixed when the executor was made
}

// resolveAllow turns the contributor's allowlist into absolute paths.
// Bare names are looked up in safePath, never in the daemon's PATH, so
// the command that runs is the one the child's PATH would find.
func resolveAllow(entries []string) ([]allowed, error) {
	var out []allowed
	names := map[string]string{}
	for _, e := range entries {
		a, err := resolveEntry(e)
		if err != nil {
			return nil, fmt.Errorf("worker.process.allow %q: %w", e, err)
		}
		if prev, ok := names[a.name]; ok {
			return nil, fmt.Errorf("worker.process.allow lists two commands named %s (%s and %s): keep one", a.name, prev, a.path)
		}
		names[a.name] = a.path
		out = append(out, a)
	}
	return out, nil
}

func resolveEntry(e string) (allowed, error) {
	var path string
	switch {
	case filepath.IsAbs(e):
		path = filepath.Clean(e)
	case strings.ContainsRune(e, '/') || e == "" || e == "." || e == "..":
		return allowed{}, fmt.Errorf("want a bare command name such as python3 or an absolute path")
	default:
		p, err := lookPath(e)
		if err != nil {
			return allowed{}, err
		}
		path = p
	}
	if _, err := exec.LookPath(path); err != nil { // with a slash: checks that this file is executable
		return allowed{}, fmt.Errorf("not an executable file: %w", err)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return allowed{}, fmt.Errorf("resolve %s: %w", path, err)
	}
	return allowed{name: filepath.Base(path), path: path, resolved: resolved}, nil
}

// lookPath finds name in safePath the way a shell would.
func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(safePath) {
		if p, err := exec.LookPath(filepath.Join(dir, name)); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no executable %s in %s: install it or give its absolute path", name, safePath)
}

// lookup maps a task's argv[0] to the allowlisted program to run. A bare
// name must match an entry's name; an absolute path must be an entry's
// path or resolve to the same file. Either way the entry must still
// resolve to the file it did when the executor was made. Relative paths
// with a slash ("../../bin/sh") are refused: their meaning depends on a
// working directory the task does not control.
func (e *Executor) lookup(argv0 string) (string, error) {
	var match *allowed
	switch {
	case filepath.IsAbs(argv0):
		p := filepath.Clean(argv0)
		resolved, err := filepath.EvalSymlinks(p)
		for i, a := range e.allow {
			if a.path == p || (err == nil && a.resolved == resolved) {
				match = &e.allow[i]
				break
			}
		}
	case strings.ContainsRune(argv0, '/'):
		return "", fmt.Errorf("%w: %q is a relative path: use a command name from worker.process.allow", ErrNotAllowed, argv0)
	default:
		for i, a := range e.allow {
			if a.name == argv0 {
				match = &e.allow[i]
				break
			}
		}
	}
	if match == nil {
		return "", fmt.Errorf("%w: %q is not in worker.process.allow %v", ErrNotAllowed, argv0, e.cfg.Allow)
	}
	if now, err := filepath.EvalSymlinks(match.path); err != nil || now != match.resolved {
		return "", fmt.Errorf("%w: %s no longer resolves to %s as when the daemon started: restart the daemon to accept the change", ErrNotAllowed, match.path, match.resolved)
	}
	return match.path, nil
}
