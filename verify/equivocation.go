package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/gridswarm/gridswarm/receipt"
)

// ErrNotEquivocation is returned (wrapped) for a pair of receipts that
// does not prove equivocation: a forged or foreign signature, different
// signers, different tasklets or the same output.
var ErrNotEquivocation = errors.New("not an equivocation proof")

// MaxProofSize is the most bytes an encoded Proof may have: two receipts
// of at most receipt.MaxJSONSize each, plus framing.
const MaxProofSize = 2*receipt.MaxJSONSize + 64

// Proof is two receipts that one worker signed for one tasklet with
// different output CIDs. No honest worker signs two outputs for one
// tasklet, so the pair alone, checked by anyone with the domain, bans it.
type Proof struct {
	A receipt.Receipt `json:"a"`
	B receipt.Receipt `json:"b"`
}

// CheckEquivocation verifies that a and b prove equivocation under d:
// both signatures valid and by the worker they name, the same worker, the
// same tasklet CID, and different output CIDs. It returns the worker's
// address, or an error wrapping ErrNotEquivocation that says which
// condition failed.
func CheckEquivocation(d receipt.Domain, a, b receipt.Receipt) (common.Address, error) {
	sa, err := receipt.Verify(d, a)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: first receipt: %w", ErrNotEquivocation, err)
	}
	sb, err := receipt.Verify(d, b)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: second receipt: %w", ErrNotEquivocation, err)
	}
	switch {
	case sa != sb:
		return common.Address{}, fmt.Errorf("%w: receipts are signed by two workers, %s and %s", ErrNotEquivocation, sa, sb)
	case a.TaskletCID != b.TaskletCID:
		return common.Address{}, fmt.Errorf("%w: receipts are for two tasklets, %s and %s", ErrNotEquivocation, a.TaskletCID, b.TaskletCID)
	case a.OutputCID == b.OutputCID:
		return common.Address{}, fmt.Errorf("%w: both receipts name output %s", ErrNotEquivocation, a.OutputCID)
	}
	return sa, nil
}

// Check is CheckEquivocation on the proof's two receipts.
func (p Proof) Check(d receipt.Domain) (common.Address, error) {
	return CheckEquivocation(d, p.A, p.B)
}

// Encode returns the proof as JSON for gossip, refusing one larger than
// MaxProofSize.
func (p Proof) Encode() ([]byte, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("cannot encode equivocation proof: %w", err)
	}
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("cannot encode equivocation proof: %d bytes exceed the %d byte limit", len(b), MaxProofSize)
	}
	return b, nil
}

// DecodeProof parses a gossiped proof (at most MaxProofSize bytes) and
// checks the shape of both receipts. It does not check the proof: call
// Proof.Check with the domain before acting on it or relaying it.
func DecodeProof(b []byte) (Proof, error) {
	if len(b) > MaxProofSize {
		return Proof{}, fmt.Errorf("cannot decode equivocation proof: %d bytes exceed the %d byte limit", len(b), MaxProofSize)
	}
	var p Proof
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Proof{}, fmt.Errorf("cannot decode equivocation proof: %w", err)
	}
	if err := p.A.CheckShape(); err != nil {
		return Proof{}, fmt.Errorf("cannot decode equivocation proof: first receipt: %w", err)
	}
	if err := p.B.CheckShape(); err != nil {
		return Proof{}, fmt.Errorf("cannot decode equivocation proof: second receipt: %w", err)
	}
	return p, nil
}
