package repo

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsurePassphraseFile(t *testing.T) {
	rnd := func() *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{7}, 64)) }
	tests := []struct {
		name        string
		existing    *string // nil: no file
		wantPass    string
		wantCreated bool
		wantErr     string
	}{
		{name: "fresh file gets a random passphrase", wantPass: "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH", wantCreated: true},
		{name: "existing file is read", existing: ptr("my secret\n"), wantPass: "my secret"},
		{name: "CRLF is trimmed", existing: ptr("s3cret\r\n"), wantPass: "s3cret"},
		{name: "empty file is refused", existing: ptr("\n"), wantErr: "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "pw")
			if tt.existing != nil {
				if err := os.WriteFile(path, []byte(*tt.existing), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			pass, created, err := EnsurePassphraseFile(path, rnd())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pass != tt.wantPass || created != tt.wantCreated {
				t.Errorf("got (%q, %v), want (%q, %v)", pass, created, tt.wantPass, tt.wantCreated)
			}
			// Whatever happened, reading the file gives the same passphrase.
			again, err := ReadPassphraseFile(path)
			if err != nil || again != pass {
				t.Errorf("ReadPassphraseFile = %q, %v; want %q", again, err, pass)
			}
			if created {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode().Perm() != 0o600 {
					t.Errorf("mode %v, want 0600", fi.Mode().Perm())
				}
			}
		})
	}
}

func TestEnsurePassphraseFileFailures(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := EnsurePassphraseFile(filepath.Join(dir, "no-such-dir", "pw"), bytes.NewReader(make([]byte, 64))); err == nil {
		t.Error("a file in a missing folder: no error")
	}
	short := filepath.Join(dir, "pw")
	if _, _, err := EnsurePassphraseFile(short, bytes.NewReader(make([]byte, 3))); err == nil {
		t.Error("too little randomness: no error")
	}
	if _, err := os.Stat(short); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed generation left %s behind (%v)", short, err)
	}
}

func ptr(s string) *string { return &s }
