package receipt

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"unicode/utf8"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Limits on the fields of a receipt. They bound what a peer can make us
// hash and store; real values are far smaller.
const (
	MaxJobIDLen  = 128  // bytes of Receipt.JobID
	MaxCIDLen    = 256  // characters of a CID's text form
	MaxPeerLen   = 128  // characters of a peer ID's text form
	MaxJSONSize  = 8192 // bytes of a receipt's JSON encoding (Decode)
	SignatureLen = 65   // r ‖ s ‖ v
)

// Receipt is a worker's statement that it ran the tasklet TaskletCID for
// Coordinator and stored the result as OutputCID. Worker is the Ethereum
// address whose key produced Signature.
type Receipt struct {
	TaskletCID  string         `json:"taskletCid"`
	OutputCID   string         `json:"outputCid"`
	Worker      common.Address `json:"worker"`
	WorkerPeer  string         `json:"workerPeer"`  // libp2p peer ID of the worker
	Coordinator string         `json:"coordinator"` // libp2p peer ID of the coordinator
	JobID       string         `json:"jobId"`
	Round       uint64         `json:"round"`
	Samples     uint64         `json:"samples"`
	// LossBits is math.Float32bits of the tasklet's mean loss: exact in JSON
	// and in the signature, NaN included. Use Loss and SetLoss.
	LossBits      uint32 `json:"lossBits"`
	StartedAt     int64  `json:"startedAt"`  // unix ms, when the worker accepted
	FinishedAt    int64  `json:"finishedAt"` // unix ms, when the executor returned
	ComputeMillis uint64 `json:"computeMillis"`
	// Price is what the coordinator offered for this tasklet, in the
	// settlement token's base units as a decimal string ("" is 0): signed
	// by the worker, so neither side can change it afterwards.
	Price     string `json:"price,omitempty"`
	Signature []byte `json:"signature,omitempty"`
}

// Loss returns the mean loss as a float32.
func (r Receipt) Loss() float32 { return math.Float32frombits(r.LossBits) }

// SetLoss stores loss bit for bit.
func (r *Receipt) SetLoss(loss float32) { r.LossBits = math.Float32bits(loss) }

// Validate checks that every field can be encoded for signing: CIDs and
// peer IDs parse, the job ID is short UTF-8, times are ordered and not
// negative. It does not look at Worker or Signature.
func (r Receipt) Validate() error {
	_, err := r.encodable()
	return err
}

// encoded holds the binary forms the signature covers.
type encoded struct {
	tasklet, output, workerPeer, coordinator []byte
	price                                    *big.Int
}

func (r Receipt) encodable() (encoded, error) {
	var e encoded
	var err error
	if e.tasklet, err = cidBytes("taskletCid", r.TaskletCID); err != nil {
		return e, err
	}
	if e.output, err = cidBytes("outputCid", r.OutputCID); err != nil {
		return e, err
	}
	if e.workerPeer, err = peerBytes("workerPeer", r.WorkerPeer); err != nil {
		return e, err
	}
	if e.coordinator, err = peerBytes("coordinator", r.Coordinator); err != nil {
		return e, err
	}
	switch {
	case r.JobID == "":
		return e, errors.New("receipt.jobId: empty; set the job the tasklet belongs to")
	case len(r.JobID) > MaxJobIDLen:
		return e, fmt.Errorf("receipt.jobId: %d bytes, over the %d byte limit", len(r.JobID), MaxJobIDLen)
	case !utf8.ValidString(r.JobID):
		return e, errors.New("receipt.jobId: not valid UTF-8")
	case r.StartedAt < 0:
		return e, fmt.Errorf("receipt.startedAt: %d is negative; use unix milliseconds", r.StartedAt)
	case r.FinishedAt < r.StartedAt:
		return e, fmt.Errorf("receipt.finishedAt: %d is before startedAt %d", r.FinishedAt, r.StartedAt)
	}
	if e.price, err = ParsePrice(r.Price); err != nil {
		return e, err
	}
	return e, nil
}

// MaxPriceLen bounds Receipt.Price: 78 digits hold any uint256.
const MaxPriceLen = 78

// ParsePrice reads a receipt's price: a decimal number of base units that
// fits a uint256, "" meaning 0.
func ParsePrice(s string) (*big.Int, error) {
	if s == "" {
		return new(big.Int), nil
	}
	if len(s) > MaxPriceLen {
		return nil, fmt.Errorf("receipt.price: %d digits, over the %d limit", len(s), MaxPriceLen)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return nil, fmt.Errorf("receipt.price: %q is not a decimal number of base units", s)
		}
	}
	p, _ := new(big.Int).SetString(s, 10)
	if p.BitLen() > 256 {
		return nil, fmt.Errorf("receipt.price: %s does not fit a uint256", s)
	}
	return p, nil
}

func cidBytes(field, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("receipt.%s: empty; set the CID", field)
	}
	if len(s) > MaxCIDLen {
		return nil, fmt.Errorf("receipt.%s: %d characters, over the %d limit", field, len(s), MaxCIDLen)
	}
	c, err := cid.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("receipt.%s: %q is not a CID: %w", field, s, err)
	}
	return c.Bytes(), nil
}

func peerBytes(field, s string) ([]byte, error) {
	if s == "" {
		return nil, fmt.Errorf("receipt.%s: empty; set the peer ID", field)
	}
	if len(s) > MaxPeerLen {
		return nil, fmt.Errorf("receipt.%s: %d characters, over the %d limit", field, len(s), MaxPeerLen)
	}
	id, err := peer.Decode(s)
	if err != nil {
		return nil, fmt.Errorf("receipt.%s: %q is not a peer ID: %w", field, s, err)
	}
	return []byte(id), nil
}

// Decode parses a receipt's JSON (at most MaxJSONSize bytes) and checks its
// fields and signature length. It does not verify the signature: that
// needs the Domain (see Verify).
func Decode(b []byte) (Receipt, error) {
	var r Receipt
	if len(b) > MaxJSONSize {
		return r, fmt.Errorf("receipt of %d bytes exceeds the %d byte limit", len(b), MaxJSONSize)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Receipt{}, fmt.Errorf("cannot decode receipt JSON: %w", err)
	}
	if err := r.CheckShape(); err != nil {
		return Receipt{}, err
	}
	return r, nil
}

// CheckShape is Validate plus the checks that only a signed receipt passes:
// a 65-byte signature and a non-zero worker address.
func (r Receipt) CheckShape() error {
	if err := r.Validate(); err != nil {
		return err
	}
	if len(r.Signature) != SignatureLen {
		return fmt.Errorf("receipt.signature: %d bytes, want %d (r ‖ s ‖ v)", len(r.Signature), SignatureLen)
	}
	if r.Worker == (common.Address{}) {
		return errors.New("receipt.worker: zero address")
	}
	return nil
}
