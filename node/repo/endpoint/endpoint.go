// Package endpoint finds the daemon that serves a repo folder: the
// endpoint file a ready daemon writes, the lock that shows it still runs,
// and the API token. It imports only the standard library (and
// golang.org/x/sys/windows on Windows), so the client can use it without
// pulling in the daemon (package repo, which writes
// these files, builds on it).
package endpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// File names inside a repo that this package reads.
const (
	File      = "api"       // the Endpoint, as JSON, once the daemon is ready
	LockFile  = "repo.lock" // flock-ed by the running daemon, holds its PID
	TokenFile = "api.token" // the bearer token of the JSON-RPC API
	// ConfigFile is written last by init: its presence marks a repo.
	ConfigFile = "config.toml"
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

// ErrNoDaemon is returned by Read when no daemon runs on the repo.
var ErrNoDaemon = errors.New("no gridswarm daemon is running")

// ErrStarting is returned by Read while a daemon holds the repo but is
// not ready yet.
var ErrStarting = errors.New("the gridswarm daemon is still starting")

// Read finds the daemon serving dir. It checks the lock as well as the
// file so that a file left by a killed daemon is not mistaken for a live
// one. It fails with ErrNoDaemon or ErrStarting as the case may be.
func Read(dir string) (Endpoint, error) {
	if !Locked(dir) {
		return Endpoint{}, ErrNoDaemon
	}
	b, err := os.ReadFile(filepath.Join(dir, File))
	if errors.Is(err, os.ErrNotExist) {
		return Endpoint{}, ErrStarting
	}
	if err != nil {
		return Endpoint{}, fmt.Errorf("cannot read the endpoint file: %w", err)
	}
	var e Endpoint
	if err := json.Unmarshal(b, &e); err != nil {
		return Endpoint{}, fmt.Errorf("endpoint file %s is corrupt: %w", File, err)
	}
	// A file left by a killed daemon may still be there while a new one starts.
	if holder := lockHolder(dir); (holder != "" && holder != strconv.Itoa(e.PID)) || !alive(e.PID) {
		return Endpoint{}, ErrStarting
	}
	return e, nil
}

// Token reads the API token of the repo in dir.
func Token(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, TokenFile))
	if err != nil {
		return "", fmt.Errorf("cannot read the API token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if len(tok) < 32 {
		return "", fmt.Errorf("API token in %s is too short: the repo is damaged", TokenFile)
	}
	return tok, nil
}

// Initialised reports whether dir holds a gridswarm repo (its config file),
// so that "no daemon" can be told apart from "not a repo at all".
func Initialised(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, ConfigFile))
	return err == nil && fi.Mode().IsRegular()
}

// Locked reports whether a live process holds dir's lock.
func Locked(dir string) bool {
	f, err := os.Open(filepath.Join(dir, LockFile))
	if err != nil {
		return false
	}
	defer f.Close()
	if err := TryLock(f, false); err != nil {
		return true
	}
	Unlock(f)
	return false
}

// HolderAlive reports whether the PID written in an open lock file is a
// live process: what a daemon writes as soon as it holds the lock, and
// what a probe (Locked) never writes.
func HolderAlive(f *os.File) bool {
	pid, err := strconv.Atoi(ReadPID(f))
	return err == nil && alive(pid)
}

// ReadPID returns the PID written in an open lock file, or "unknown".
func ReadPID(f *os.File) string {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	if s := strings.TrimSpace(string(b[:n])); s != "" {
		return s
	}
	return "unknown"
}

func lockHolder(dir string) string {
	f, err := os.Open(filepath.Join(dir, LockFile))
	if err != nil {
		return ""
	}
	defer f.Close()
	pid := ReadPID(f)
	if pid == "unknown" {
		return ""
	}
	return pid
}
