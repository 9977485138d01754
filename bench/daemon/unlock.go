package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"

	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
)

// unlockRound is one timed unlock of both keys the daemon decrypts at start.
type unlockRound struct {
	identity, eth time.Duration
}

// unlockTimes creates a repo of profile (Init only writes files; nothing
// listens) and times rounds decryptions of its libp2p identity and its
// Ethereum account: the scrypt cost the daemon pays before it can start.
func unlockTimes(work, profile, pass string, rounds int) ([]unlockRound, error) {
	dir := filepath.Join(work, "unlock-"+profile)
	if _, err := repo.Init(dir, repo.InitOptions{Profile: profile, Passphrase: pass}); err != nil {
		return nil, fmt.Errorf("cannot make a %s repo to unlock: %w", profile, err)
	}
	files, err := keystoreFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(files) != 1 {
		return nil, fmt.Errorf("a fresh %s repo holds %d Ethereum keys, want 1", profile, len(files))
	}
	sealed, err := readSmall(files[0])
	if err != nil {
		return nil, fmt.Errorf("cannot read the Ethereum key: %w", err)
	}
	out := make([]unlockRound, 0, rounds)
	for range rounds {
		var r unlockRound
		start := time.Now()
		if _, err := repo.LoadIdentity(dir, pass); err != nil {
			return nil, err
		}
		r.identity = time.Since(start)
		start = time.Now()
		if _, err := keystore.DecryptKey(sealed, pass); err != nil {
			return nil, errors.Join(errors.New("cannot unlock the Ethereum key"), err)
		}
		r.eth = time.Since(start)
		out = append(out, r)
	}
	return out, nil
}

// scryptOf names a profile's scrypt cost for the report.
func scryptOf(profile string) string {
	c, err := config.Default(profile)
	if err != nil {
		return "?"
	}
	return c.Keystore.Scrypt
}
