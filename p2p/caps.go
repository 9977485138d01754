package p2p

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/accounts"
	"github.com/ethereum/go-ethereum/common"
	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/hashicorp/serf/coordinate"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	mh "github.com/multiformats/go-multihash"
)

// CapsTopic carries capability records.
const CapsTopic = "gridswarm/caps/1.0.0"

// MaxCapsSize caps a sealed capability record.
const MaxCapsSize = 32 << 10

// MaxCapsAge is how old a capability record may be before it is dropped.
const MaxCapsAge = 10 * time.Minute

const (
	capsDomain = "gridswarm-caps"
	capsName   = "caps"
)

var capsCodec = []byte("/gridswarm/caps/1")

// ThroughputParams is the parameter count of the model a record's
// Throughput is timed on: the built-in trainer's MLP 784-128-10 (weights
// and biases). A coordinator scales it to other models by the ratio of
// parameters (scheduler/measure.Table.ObserveBenchmark).
const ThroughputParams = 784*128 + 128 + 128*10 + 10

// GPUCap is one GPU as advertised.
type GPUCap struct {
	Name              string `json:"name"`
	MemoryTotal       uint64 `json:"memory_total"`
	MemoryFree        uint64 `json:"memory_free"`
	Utilization       uint32 `json:"utilization"`
	ComputeCapability string `json:"compute_capability"`
	Offered           bool   `json:"offered"` // idle by the contributor's policy
}

// Capabilities is what a worker advertises: its hardware, what it runs, its
// price, its Ethereum account (bound to the peer ID by a signature) and its
// network coordinate.
type Capabilities struct {
	Version      int                    `json:"v"`
	PeerID       string                 `json:"peer_id"`
	Seq          uint64                 `json:"seq"`
	Time         int64                  `json:"time"` // unix ms
	Agent        string                 `json:"agent"`
	Account      string                 `json:"account"`
	AccountSig   []byte                 `json:"account_sig"` // EIP-191 signature of BindingMessage(peer)
	Executors    []string               `json:"executors"`
	GPUs         []GPUCap               `json:"gpus,omitempty"`
	CPUCores     int                    `json:"cpu_cores"`
	MemoryBytes  uint64                 `json:"memory_bytes"`
	DiskFree     uint64                 `json:"disk_free"`
	GridQuota    uint64                 `json:"grid_quota"`
	Idle         bool                   `json:"idle"`
	IdleReason   string                 `json:"idle_reason,omitempty"`
	Slots        int                    `json:"slots"`
	SlotsFree    int                    `json:"slots_free"`
	Throughput   float64                `json:"throughput"` // builtin trainer, samples/s
	BandwidthBps float64                `json:"bandwidth_bps"`
	PricePerHour float64                `json:"price_per_hour"`
	Coord        *coordinate.Coordinate `json:"coord,omitempty"`
}

var _ record.Record = (*Capabilities)(nil)

// Domain implements record.Record.
func (c *Capabilities) Domain() string { return capsDomain }

// Codec implements record.Record.
func (c *Capabilities) Codec() []byte { return capsCodec }

// MarshalRecord implements record.Record.
func (c *Capabilities) MarshalRecord() ([]byte, error) { return json.Marshal(c) }

// UnmarshalRecord implements record.Record.
func (c *Capabilities) UnmarshalRecord(b []byte) error {
	if len(b) > MaxCapsSize {
		return fmt.Errorf("capability record of %d bytes exceeds %d", len(b), MaxCapsSize)
	}
	return json.Unmarshal(b, c)
}

// BindingMessage is what a node's Ethereum key signs to bind it to the peer ID.
func BindingMessage(id peer.ID) []byte {
	return []byte("gridswarm: Ethereum account bound to libp2p peer " + id.String())
}

// SignBinding signs BindingMessage with an Ethereum key (EIP-191).
func SignBinding(sign func(hash []byte) ([]byte, error), id peer.ID) ([]byte, error) {
	return sign(accounts.TextHash(BindingMessage(id)))
}

// VerifyBinding checks that account signed the binding to id.
func VerifyBinding(id peer.ID, account string, sig []byte) error {
	if !common.IsHexAddress(account) {
		return fmt.Errorf("account %q is not an Ethereum address", account)
	}
	if len(sig) != 65 {
		return fmt.Errorf("account binding signature has %d bytes, want 65", len(sig))
	}
	if sig[64] >= 27 { // wallets' personal_sign gives v as 27/28
		sig = append(append([]byte(nil), sig[:64]...), sig[64]-27)
	}
	pub, err := ethcrypto.SigToPub(accounts.TextHash(BindingMessage(id)), sig)
	if err != nil {
		return fmt.Errorf("account binding signature: %w", err)
	}
	if got := ethcrypto.PubkeyToAddress(*pub); got != common.HexToAddress(account) {
		return fmt.Errorf("account binding signed by %s, not %s", got.Hex(), account)
	}
	return nil
}

// maxBindings bounds a bindingCache: more peers than a swarm's records
// come from; beyond it an arbitrary entry makes room.
const maxBindings = 10_000

// bindingCache remembers the account bindings it verified, one per peer.
// A peer's binding is the same in every record it publishes, so each one
// costs an ECDSA public-key recovery (tens to hundreds of µs) once rather
// than once per record received; a record whose account or signature
// differs from the remembered one is verified afresh.
type bindingCache struct {
	mu sync.Mutex
	ok map[peer.ID]verifiedBinding
}

type verifiedBinding struct {
	account string
	sig     string
}

func newBindingCache() *bindingCache {
	return &bindingCache{ok: map[peer.ID]verifiedBinding{}}
}

// verify is VerifyBinding, skipped for a binding verified before.
func (bc *bindingCache) verify(id peer.ID, account string, sig []byte) error {
	b := verifiedBinding{account: account, sig: string(sig)}
	bc.mu.Lock()
	prev, known := bc.ok[id]
	bc.mu.Unlock()
	if known && prev == b { // known: an absent peer's zero value is no binding
		return nil
	}
	if err := VerifyBinding(id, account, sig); err != nil {
		return err
	}
	bc.mu.Lock()
	defer bc.mu.Unlock()
	if _, present := bc.ok[id]; !present && len(bc.ok) >= maxBindings {
		for old := range bc.ok {
			delete(bc.ok, old)
			break
		}
	}
	bc.ok[id] = b
	return nil
}

// SealCaps signs capabilities with the node's libp2p key.
func SealCaps(key crypto.PrivKey, c *Capabilities) ([]byte, error) {
	env, err := record.Seal(c, key)
	if err != nil {
		return nil, fmt.Errorf("cannot sign capability record: %w", err)
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("cannot encode capability record: %w", err)
	}
	if len(b) > MaxCapsSize {
		return nil, fmt.Errorf("capability record is %d bytes signed, over the %d byte limit", len(b), MaxCapsSize)
	}
	return b, nil
}

// OpenCaps verifies a sealed capability record: size, envelope signature,
// that the signer is the peer it describes, the account binding, freshness
// and sane values. now is injected for tests.
func OpenCaps(b []byte, now time.Time) (*Capabilities, error) {
	return openCaps(b, now, VerifyBinding)
}

// openCaps is OpenCaps with the account binding checked by verify
// (VerifyBinding, or a bindingCache's verify).
func openCaps(b []byte, now time.Time, verify func(id peer.ID, account string, sig []byte) error) (*Capabilities, error) {
	if len(b) > MaxCapsSize {
		return nil, fmt.Errorf("capability record of %d bytes exceeds the %d byte limit", len(b), MaxCapsSize)
	}
	var c Capabilities
	env, err := record.ConsumeTypedEnvelope(b, &c)
	if err != nil {
		return nil, fmt.Errorf("capability record has no valid signature: %w", err)
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("capability record: bad signer key: %w", err)
	}
	if c.Version != 1 {
		return nil, fmt.Errorf("capability record version %d; this daemon reads version 1", c.Version)
	}
	if c.PeerID != signer.String() {
		return nil, fmt.Errorf("capability record describes %s but is signed by %s", c.PeerID, signer)
	}
	if age := now.Sub(time.UnixMilli(c.Time)); age > MaxCapsAge || age < -time.Minute {
		return nil, fmt.Errorf("capability record of %s is stale or from the future (age %s)", signer, age.Round(time.Second))
	}
	if err := verify(signer, c.Account, c.AccountSig); err != nil {
		return nil, err
	}
	if len(c.Executors) > 16 || len(c.GPUs) > 64 || c.Slots < 0 || c.SlotsFree < 0 || c.SlotsFree > c.Slots ||
		c.Throughput < 0 || c.BandwidthBps < 0 || c.PricePerHour < 0 {
		return nil, errors.New("capability record holds out-of-range values")
	}
	if c.Coord != nil && !c.Coord.IsValid() {
		return nil, errors.New("capability record holds an invalid network coordinate")
	}
	return &c, nil
}

// ClassKey is the DHT provider key under which nodes offering a capability
// class (an executor name, or "gpu") announce themselves, so a node not on
// the gossip topic can still find workers.
func ClassKey(class string) (cid.Cid, error) {
	h, err := mh.Sum([]byte("gridswarm/class/"+class), mh.SHA2_256, -1)
	if err != nil {
		return cid.Undef, fmt.Errorf("cannot hash class %q: %w", class, err)
	}
	return cid.NewCidV1(cid.Raw, h), nil
}
