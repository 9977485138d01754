package main

import (
	"testing"

	"github.com/ethereum/go-ethereum/accounts/keystore"

	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
)

// BenchmarkUnlock times the scrypt decryption of a repo's libp2p identity
// and Ethereum key, the deliberately slow step of `gridswarm daemon`'s start,
// at each profile's cost. Run: go test ./bench/daemon -bench Unlock -run '^$' -benchtime 5x
// `go test ./...` runs no benchmarks, so this file adds nothing to CI time.
func BenchmarkUnlock(b *testing.B) {
	const pass = "bench-passphrase"
	for _, tc := range []struct {
		name, profile string
	}{
		{"light", config.ProfileLocal},
		{"standard", config.ProfileDefault},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.profile == config.ProfileDefault && testing.Short() {
				b.Skip("standard scrypt costs about a second and 256 MiB per key; skipped in -short mode")
			}
			dir := b.TempDir()
			// Init only writes files; the default profile's listeners never start.
			if _, err := repo.Init(dir, repo.InitOptions{Profile: tc.profile, Passphrase: pass}); err != nil {
				b.Fatalf("init %s repo: %v", tc.profile, err)
			}
			files, err := keystoreFiles(dir)
			if err != nil || len(files) != 1 {
				b.Fatalf("keystore of a fresh repo: %v, %d files; want one", err, len(files))
			}
			sealed, err := readSmall(files[0])
			if err != nil {
				b.Fatalf("read the Ethereum key: %v", err)
			}
			for b.Loop() {
				if _, err := repo.LoadIdentity(dir, pass); err != nil {
					b.Fatalf("unlock the identity: %v", err)
				}
				if _, err := keystore.DecryptKey(sealed, pass); err != nil {
					b.Fatalf("unlock the Ethereum key: %v", err)
				}
			}
		})
	}
}
