package repo

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/gridswarm/gridswarm/internal/fsutil"
)

// Endpoint is what a ready daemon writes for its CLI and for tools.
type Endpoint struct {
	PID     int      `json:"pid"`
	PeerID  string   `json:"peer_id"`
	HTTP    string   `json:"http"`
	WS      string   `json:"ws"`
	Metrics string   `json:"metrics,omitempty"`
	Swarm   []string `json:"swarm"`
}

// ErrNoDaemon is returned by ReadEndpoint when no daemon runs on the repo.
var ErrNoDaemon = errors.New("no gridswarm daemon is running")

// ErrStarting is returned by ReadEndpoint while a daemon holds the repo but
// is not ready yet.
var ErrStarting = errors.New("the gridswarm daemon is still starting")

// WriteEndpoint publishes the daemon's addresses atomically.
func (r *Repo) WriteEndpoint(e Endpoint) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode endpoint: %w", err)
	}
	return fsutil.WriteFile(r.path(EndpointFile), b, 0o600)
}

// ReadEndpoint finds the daemon serving dir. It checks the lock as well as
// the file so that a file left by a killed daemon is not mistaken for a live one.
func ReadEndpoint(dir string) (Endpoint, error) {
	if !Locked(dir) {
		return Endpoint{}, ErrNoDaemon
	}
	b, err := os.ReadFile(filepath.Join(dir, EndpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return Endpoint{}, ErrStarting
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("cannot read the endpoint file: %w", err)
	}
	var e Endpoint
	if err := json.Unmarshal(b, &e); err != nil {
		return Endpoint{}, fmt.Errorf("endpoint file %s is corrupt: %w", EndpointFile, err)
	}
	// A file left by a killed daemon may still be there while a new one starts.
	if holder := lockHolder(dir); (holder != "" && holder != strconv.Itoa(e.PID)) || !alive(e.PID) {
		return Endpoint{}, ErrStarting
	}
	return e, nil
}

func lockHolder(dir string) string {
	f, err := os.Open(filepath.Join(dir, LockFile))
	if err != nil {
		return ""
	}
	defer f.Close()
	pid := readPID(f)
	if pid == "unknown" {
		return ""
	}
	return pid
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Locked reports whether a live process holds dir's lock.
func Locked(dir string) bool {
	f, err := os.Open(filepath.Join(dir, LockFile))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
