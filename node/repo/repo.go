package repo

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/internal/fsutil"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo/endpoint"
)

// File names inside a repo.
const (
	ConfigFile   = endpoint.ConfigFile
	IdentityFile = "identity.key"
	KeystoreDir  = "keystore"
	TokenFile    = endpoint.TokenFile
	LockFile     = endpoint.LockFile
	EndpointFile = endpoint.File
)

// ErrNotInitialised is returned by Open when the directory holds no repo.
var ErrNotInitialised = errors.New("no gridswarm repo here")

// ErrLocked is returned by Open when another daemon holds the repo.
var ErrLocked = errors.New("repo is in use by another daemon")

// DefaultPath is $GRIDSWARM_PATH or ~/.gridswarm.
func DefaultPath() (string, error) {
	if p := os.Getenv("GRIDSWARM_PATH"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the home directory for the default repo: %w (set GRIDSWARM_PATH)", err)
	}
	return filepath.Join(home, ".gridswarm"), nil
}

// InitOptions say how Init builds a repo.
type InitOptions struct {
	Profile    string
	Passphrase string
	Bootstrap  []string
}

// InitResult names what Init created.
type InitResult struct {
	PeerID  peer.ID
	Account common.Address
	Config  config.Config
}

// Init creates a repo in dir. It refuses when dir already holds a config or
// any key: keys are never overwritten.
func Init(dir string, opts InitOptions) (InitResult, error) {
	for _, name := range []string{ConfigFile, IdentityFile, KeystoreDir, TokenFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return InitResult{}, fmt.Errorf("%s already holds a gridswarm repo (found %s): refusing to overwrite its keys; use another GRIDSWARM_PATH or remove it yourself", dir, name)
		}
	}
	if opts.Passphrase == "" {
		return InitResult{}, errors.New("an empty passphrase would leave the keys unprotected: give one with --password-file, GRIDSWARM_PASSWORD or at the prompt")
	}
	cfg, err := config.Default(opts.Profile)
	if err != nil {
		return InitResult{}, err
	}
	for i, b := range opts.Bootstrap {
		if err := config.CheckPeerAddr(b); err != nil {
			return InitResult{}, fmt.Errorf("--bootstrap[%d]: %w", i, err)
		}
	}
	cfg.Swarm.Bootstrap = append(cfg.Swarm.Bootstrap, opts.Bootstrap...)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return InitResult{}, fmt.Errorf("cannot create repo %s: %w", dir, err)
	}
	n, p := scryptParams(cfg.Keystore.Scrypt)

	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return InitResult{}, fmt.Errorf("cannot generate the libp2p identity: %w", err)
	}
	raw, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return InitResult{}, fmt.Errorf("cannot encode the libp2p identity: %w", err)
	}
	sealed, err := keystore.EncryptDataV3(raw, []byte(opts.Passphrase), n, p)
	if err != nil {
		return InitResult{}, fmt.Errorf("cannot encrypt the libp2p identity: %w", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return InitResult{}, fmt.Errorf("cannot derive the peer ID: %w", err)
	}
	idJSON, err := json.Marshal(identityFile{PeerID: id.String(), Crypto: sealed})
	if err != nil {
		return InitResult{}, fmt.Errorf("cannot encode the identity file: %w", err)
	}

	ks := keystore.NewKeyStore(filepath.Join(dir, KeystoreDir), n, p)
	acct, err := ks.NewAccount(opts.Passphrase)
	if err != nil {
		return InitResult{}, fmt.Errorf("cannot create the Ethereum account: %w", err)
	}

	tok := make([]byte, 32)
	if _, err := rand.Read(tok); err != nil {
		return InitResult{}, fmt.Errorf("cannot generate the API token: %w", err)
	}
	cfgText, err := cfg.Marshal()
	if err != nil {
		return InitResult{}, err
	}
	// The config goes last: its presence marks the repo as complete.
	writes := []struct {
		name string
		data []byte
	}{
		{IdentityFile, idJSON},
		{TokenFile, []byte(hex.EncodeToString(tok) + "\n")},
		{ConfigFile, cfgText},
	}
	for _, w := range writes {
		if err := fsutil.WriteFile(filepath.Join(dir, w.name), w.data, 0o600); err != nil {
			return InitResult{}, err
		}
	}
	return InitResult{PeerID: id, Account: acct.Address, Config: cfg}, nil
}

func scryptParams(kind string) (n, p int) {
	if kind == "light" {
		return keystore.LightScryptN, keystore.LightScryptP
	}
	return keystore.StandardScryptN, keystore.StandardScryptP
}

type identityFile struct {
	PeerID string              `json:"peer_id"`
	Crypto keystore.CryptoJSON `json:"crypto"`
}

// Repo is an open, locked repo directory.
type Repo struct {
	Dir    string
	Config config.Config
	lock   *os.File
}

// Open locks dir for this process and loads its config. A lock file left by a
// killed daemon is no obstacle: the lock dies with its process.
func Open(dir string) (*Repo, error) { return open(dir, pauseForLock) }

// lockTries bounds how often Open tries a lock held by no live daemon.
const lockTries = 50

// pauseForLock waits a little before Open's next try at the lock and says
// whether to try again. flock has no timed wait, and a blocking one
// would wait forever on a live daemon.
func pauseForLock(try int) bool {
	if try >= lockTries {
		return false
	}
	time.Sleep(10 * time.Millisecond)
	return true
}

// open is Open with the pause between tries at the lock injected. A
// held lock whose file names no live process belongs to a probe (the
// CLI's Locked, which `status --wait` runs in a loop, holds it shared for
// an instant) or to a daemon that has just taken it: open tries again
// while pause allows. A lock whose file names a live process is a
// daemon's, and fails at once.
func open(dir string, pause func(try int) bool) (*Repo, error) {
	if _, err := os.Stat(filepath.Join(dir, ConfigFile)); err != nil {
		return nil, fmt.Errorf("%s: %w: run `gridswarm init` first", dir, ErrNotInitialised)
	}
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the repo lock: %w", err)
	}
	for try := 1; ; try++ {
		err := endpoint.TryLock(f, true)
		if err == nil {
			break
		}
		if endpoint.HolderAlive(f) || !pause(try) {
			holder := endpoint.ReadPID(f)
			f.Close()
			return nil, fmt.Errorf("%s: %w (pid %s): stop it first, or give this daemon its own GRIDSWARM_PATH", dir, ErrLocked, holder)
		}
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	cfg, err := config.Load(filepath.Join(dir, ConfigFile))
	if err != nil {
		releaseLock(f)
		return nil, err
	}
	r := &Repo{Dir: dir, Config: cfg, lock: f}
	// An endpoint file left by a killed daemon would send the CLI to a dead port.
	if err := os.Remove(r.path(EndpointFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		r.Close()
		return nil, fmt.Errorf("cannot remove stale endpoint file: %w", err)
	}
	return r, nil
}

func releaseLock(f *os.File) {
	endpoint.Unlock(f)
	f.Close()
}

// Close removes the endpoint file and releases the lock.
func (r *Repo) Close() error {
	if r.lock == nil {
		return nil
	}
	err := os.Remove(r.path(EndpointFile))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	_ = r.lock.Truncate(0)
	releaseLock(r.lock)
	r.lock = nil
	return err
}

func (r *Repo) path(name string) string { return filepath.Join(r.Dir, name) }

// Identity decrypts the libp2p key with the passphrase.
func (r *Repo) Identity(passphrase string) (crypto.PrivKey, error) {
	return LoadIdentity(r.Dir, passphrase)
}

// LoadIdentity decrypts dir's libp2p key.
func LoadIdentity(dir, passphrase string) (crypto.PrivKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if err != nil {
		return nil, fmt.Errorf("cannot read the libp2p identity: %w", err)
	}
	var f identityFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("identity file %s is corrupt: %w", IdentityFile, err)
	}
	raw, err := keystore.DecryptDataV3(f.Crypto, passphrase)
	if err != nil {
		return nil, fmt.Errorf("cannot unlock the libp2p identity (wrong passphrase?): %w", err)
	}
	key, err := crypto.UnmarshalPrivateKey(raw)
	if err != nil {
		return nil, fmt.Errorf("identity file %s holds no valid key: %w", IdentityFile, err)
	}
	return key, nil
}

// PeerID reads the peer ID without decrypting the key.
func PeerID(dir string) (peer.ID, error) {
	b, err := os.ReadFile(filepath.Join(dir, IdentityFile))
	if err != nil {
		return "", fmt.Errorf("cannot read the libp2p identity: %w", err)
	}
	var f identityFile
	if err := json.Unmarshal(b, &f); err != nil {
		return "", fmt.Errorf("identity file %s is corrupt: %w", IdentityFile, err)
	}
	return peer.Decode(f.PeerID)
}

// Account returns the address of the repo's Ethereum account, read from the
// keystore file without decrypting it.
func Account(dir string) (common.Address, error) {
	entries, err := os.ReadDir(filepath.Join(dir, KeystoreDir))
	if err != nil {
		return common.Address{}, fmt.Errorf("cannot read the keystore: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, KeystoreDir, e.Name()))
		if err != nil {
			return common.Address{}, fmt.Errorf("cannot read keystore file %s: %w", e.Name(), err)
		}
		var k struct {
			Address string `json:"address"`
		}
		if err := json.Unmarshal(b, &k); err != nil || !common.IsHexAddress(k.Address) {
			return common.Address{}, fmt.Errorf("keystore file %s holds no account address", e.Name())
		}
		return common.HexToAddress(k.Address), nil
	}
	return common.Address{}, errors.New("the keystore holds no account: the repo is incomplete, run `gridswarm init` on a fresh GRIDSWARM_PATH")
}

// Token reads the API token.
func Token(dir string) (string, error) { return endpoint.Token(dir) }

// EthKey decrypts the repo's Ethereum account with the passphrase.
func EthKey(dir, passphrase string) (*ecdsa.PrivateKey, error) {
	entries, err := os.ReadDir(filepath.Join(dir, KeystoreDir))
	if err != nil {
		return nil, fmt.Errorf("cannot read the keystore: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, KeystoreDir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("cannot read keystore file %s: %w", e.Name(), err)
		}
		k, err := keystore.DecryptKey(b, passphrase)
		if err != nil {
			return nil, fmt.Errorf("cannot unlock the Ethereum account (wrong passphrase?): %w", err)
		}
		return k.PrivateKey, nil
	}
	return nil, errors.New("the keystore holds no account: the repo is incomplete")
}
