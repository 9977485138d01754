package cli

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

// passphrase finds the key passphrase: --password-file, then
// GRIDSWARM_PASSWORD, then a prompt when stdin is a terminal.
func (e *env) passphrase(file string, confirm bool) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		p := strings.TrimRight(string(b), "\r\n")
		if p == "" {
			return "", fmt.Errorf("--password-file %s is empty", file)
		}
		return p, nil
	}
	if p := e.Getenv("GRIDSWARM_PASSWORD"); p != "" {
		return p, nil
	}
	f, ok := e.In.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", errors.New("no passphrase for the keys: pass --password-file FILE or set GRIDSWARM_PASSWORD (no terminal to prompt on)")
	}
	fmt.Fprint(e.Err, "Passphrase for the node's keys: ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.Err)
	if err != nil {
		return "", fmt.Errorf("cannot read the passphrase: %w", err)
	}
	if confirm {
		fmt.Fprint(e.Err, "Repeat it: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.Err)
		if err != nil {
			return "", fmt.Errorf("cannot read the passphrase: %w", err)
		}
		if string(again) != string(p) {
			return "", errors.New("the two passphrases differ; nothing was created")
		}
	}
	return string(p), nil
}
