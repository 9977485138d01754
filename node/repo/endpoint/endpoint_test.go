package endpoint

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// lock holds dir's lock as a running daemon does, writing pid into it.
func lock(t *testing.T, dir string, pid int) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := TryLock(f, true); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

func writeEndpoint(t *testing.T, dir string, e Endpoint) {
	t.Helper()
	b, _ := json.Marshal(e)
	if err := os.WriteFile(filepath.Join(dir, File), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRead(t *testing.T) {
	self := os.Getpid()
	tests := []struct {
		name    string
		locked  bool
		file    *Endpoint
		raw     string
		wantErr error
	}{
		{name: "no daemon", wantErr: ErrNoDaemon},
		{name: "stale file, no daemon", file: &Endpoint{PID: self}, wantErr: ErrNoDaemon},
		{name: "starting", locked: true, wantErr: ErrStarting},
		{name: "file of an earlier daemon", locked: true, file: &Endpoint{PID: 1 << 30}, wantErr: ErrStarting},
		{name: "ready", locked: true, file: &Endpoint{PID: self, HTTP: "http://127.0.0.1:5"}},
		{name: "corrupt", locked: true, raw: "{"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.locked {
				lock(t, dir, self)
			}
			if tt.file != nil {
				writeEndpoint(t, dir, *tt.file)
			}
			if tt.raw != "" {
				os.WriteFile(filepath.Join(dir, File), []byte(tt.raw), 0o600)
			}
			e, err := Read(dir)
			switch {
			case tt.raw != "":
				if err == nil || !strings.Contains(err.Error(), "corrupt") {
					t.Errorf("Read = %v, want a corrupt-file error", err)
				}
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Read = %+v, %v; want %v", e, err, tt.wantErr)
				}
			case err != nil || e.HTTP != tt.file.HTTP:
				t.Errorf("Read = %+v, %v; want %+v", e, err, *tt.file)
			}
		})
	}
}

func TestToken(t *testing.T) {
	dir := t.TempDir()
	if _, err := Token(dir); err == nil {
		t.Error("Token of a repo without a token file succeeded")
	}
	os.WriteFile(filepath.Join(dir, TokenFile), []byte("short\n"), 0o600)
	if _, err := Token(dir); err == nil || !strings.Contains(err.Error(), "too short") {
		t.Errorf("short token: err = %v", err)
	}
	tok := strings.Repeat("ab", 16)
	os.WriteFile(filepath.Join(dir, TokenFile), []byte(tok+"\n"), 0o600)
	if got, err := Token(dir); err != nil || got != tok {
		t.Errorf("Token = %q, %v; want %q", got, err, tok)
	}
}

func TestInitialised(t *testing.T) {
	tests := []struct {
		name  string
		setup func(dir string) error
		want  bool
	}{
		{"missing folder", func(dir string) error { return os.Remove(dir) }, false},
		{"empty folder", func(string) error { return nil }, false},
		{"config is a folder", func(dir string) error { return os.Mkdir(filepath.Join(dir, ConfigFile), 0o700) }, false},
		{"config file", func(dir string) error { return os.WriteFile(filepath.Join(dir, ConfigFile), nil, 0o600) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tt.setup(dir); err != nil {
				t.Fatal(err)
			}
			if got := Initialised(dir); got != tt.want {
				t.Errorf("Initialised = %v, want %v", got, tt.want)
			}
		})
	}
}
