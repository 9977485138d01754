package repo

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// passphraseBytes is how much randomness a generated passphrase carries
// (192 bits, 32 characters of base64url).
const passphraseBytes = 24

// ReadPassphraseFile reads a passphrase file: its first line without the
// line ending. An empty passphrase is an error.
func ReadPassphraseFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read --password-file: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", fmt.Errorf("--password-file %s is empty", path)
	}
	return p, nil
}

// EnsurePassphraseFile returns the passphrase held in path. When path does
// not exist it first writes a fresh one drawn from rnd there, readable by
// the owner only (0600), and reports created true; the caller should
// remove the file again if what it was to protect is not made after all.
// An existing file is never overwritten.
func EnsurePassphraseFile(path string, rnd io.Reader) (pass string, created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		p, err := ReadPassphraseFile(path)
		return p, false, err
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", false, fmt.Errorf("cannot look at --password-file: %w", err)
	}
	raw := make([]byte, passphraseBytes)
	if _, err := io.ReadFull(rnd, raw); err != nil {
		return "", false, fmt.Errorf("cannot generate a passphrase: %w", err)
	}
	pass = base64.RawURLEncoding.EncodeToString(raw)
	// O_EXCL: a file that appeared meanwhile is not overwritten.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("cannot create --password-file: %w", err)
	}
	_, werr := f.WriteString(pass + "\n")
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return "", false, fmt.Errorf("cannot write --password-file %s: %w", path, werr)
	}
	return pass, true, nil
}
