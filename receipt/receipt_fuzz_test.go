package receipt

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// FuzzDecodeVerify decodes arbitrary receipt JSON, as a coordinator does
// with what a worker sends, and checks that for anything Decode accepts:
//   - Verify never panics, and succeeds only for the address the receipt
//     names (a wrong signer is reported as ErrWrongSigner, a malformed
//     signature as ErrBadSignature);
//   - Hash agrees with go-ethereum's own EIP-712 encoder (TypedData and
//     apitypes.TypedDataAndHash), so a wallet or contract checks the same
//     digest;
//   - the receipt re-encodes to JSON that decodes and verifies the same.
func FuzzDecodeVerify(f *testing.F) {
	d := Domain{ChainID: goldenChainID, VerifyingContract: common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")}
	signed, err := Sign(goldenKey(f), d, sample())
	if err != nil {
		f.Fatalf("Sign: %v", err)
	}
	b, _ := json.Marshal(signed)
	f.Add(b)
	other := signed
	other.JobID, other.Round = "job-é-\u2028", 1<<63
	other, _ = Sign(goldenKey(f), d, Receipt{TaskletCID: other.TaskletCID, OutputCID: other.OutputCID, WorkerPeer: other.WorkerPeer, Coordinator: other.Coordinator, JobID: other.JobID, Round: other.Round, FinishedAt: 1})
	b, _ = json.Marshal(other)
	f.Add(b)
	unsigned, _ := json.Marshal(sample())
	f.Add(unsigned)

	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Decode(in)
		if err != nil {
			return
		}
		addr, verr := Verify(d, r)
		switch {
		case verr == nil && addr != r.Worker:
			t.Fatalf("Verify succeeded for %s on a receipt naming %s", addr, r.Worker)
		case verr != nil && !errors.Is(verr, ErrBadSignature) && !errors.Is(verr, ErrWrongSigner):
			t.Fatalf("Verify of a decoded receipt: unexpected error %v", verr)
		}
		ours, err := Hash(d, r)
		if err != nil {
			t.Fatalf("Hash of a decoded receipt: %v", err)
		}
		td, err := TypedData(d, r)
		if err != nil {
			t.Fatalf("TypedData of a decoded receipt: %v", err)
		}
		theirs, _, err := apitypes.TypedDataAndHash(td)
		if err != nil {
			t.Fatalf("apitypes.TypedDataAndHash: %v", err)
		}
		if !bytes.Equal(ours[:], theirs) {
			t.Fatalf("Hash = %x, go-ethereum's EIP-712 encoder says %x", ours, theirs)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		r2, err := Decode(again)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip: %+v, %v; want %+v", r2, err, r)
		}
		if addr2, verr2 := Verify(d, r2); addr2 != addr || (verr2 == nil) != (verr == nil) {
			t.Fatalf("Verify after a round trip: %s, %v; before: %s, %v", addr2, verr2, addr, verr)
		}
	})
}

// FuzzSignVerify signs receipts with fuzzed fields and domain and checks
// that the signature binds all of them: Sign succeeds exactly when
// Validate does, Verify recovers the signer, and changing the domain, any
// one field or any bit of the signature makes Verify refuse it.
func FuzzSignVerify(f *testing.F) {
	s := sample()
	f.Add(s.JobID, s.Round, s.Samples, s.LossBits, s.StartedAt, s.FinishedAt, s.ComputeMillis, uint64(goldenChainID), []byte{}, 0, byte(1))
	f.Add("j", uint64(0), uint64(0), uint32(0x7fc00000), int64(0), int64(0), uint64(0), uint64(0), bytes.Repeat([]byte{0xff}, 20), 64, byte(0x80))
	f.Add("", uint64(1), uint64(1), uint32(1), int64(5), int64(4), uint64(1), uint64(1), []byte{1}, 3, byte(0))
	key := goldenKey(f)
	f.Fuzz(func(t *testing.T, jobID string, round, samples uint64, lossBits uint32, started, finished int64,
		compute, chainID uint64, contract []byte, flipAt int, flip byte) {
		r := sample()
		r.JobID, r.Round, r.Samples, r.LossBits = jobID, round, samples, lossBits
		r.StartedAt, r.FinishedAt, r.ComputeMillis = started, finished, compute
		d := Domain{ChainID: chainID, VerifyingContract: common.BytesToAddress(contract)}
		signed, err := Sign(key, d, r)
		if verr := r.Validate(); (err == nil) != (verr == nil) {
			t.Fatalf("Sign: %v, but Validate: %v", err, verr)
		}
		if err != nil {
			return
		}
		if addr, err := Verify(d, signed); err != nil || addr != signed.Worker {
			t.Fatalf("Verify of a fresh signature = %s, %v; want %s", addr, err, signed.Worker)
		}
		refuse := func(what string, d Domain, r Receipt) {
			t.Helper()
			if addr, err := Verify(d, r); err == nil {
				t.Fatalf("Verify accepted the receipt with %s (signer %s)", what, addr)
			}
		}
		refuse("another chain ID", Domain{ChainID: chainID + 1, VerifyingContract: d.VerifyingContract}, signed)
		otherContract := d
		otherContract.VerifyingContract[0] ^= 1
		refuse("another verifying contract", otherContract, signed)
		for name, mutate := range map[string]func(*Receipt){
			"jobId":         func(r *Receipt) { r.JobID += "x" },
			"round":         func(r *Receipt) { r.Round++ },
			"samples":       func(r *Receipt) { r.Samples++ },
			"lossBits":      func(r *Receipt) { r.LossBits ^= 1 },
			"finishedAt":    func(r *Receipt) { r.FinishedAt++ },
			"computeMillis": func(r *Receipt) { r.ComputeMillis++ },
			"outputCid":     func(r *Receipt) { r.OutputCID = r.TaskletCID },
			"worker peer":   func(r *Receipt) { r.WorkerPeer, r.Coordinator = r.Coordinator, r.WorkerPeer },
		} {
			m := signed
			mutate(&m)
			if m.Validate() == nil {
				refuse("a changed "+name, d, m)
			}
		}
		if flip != 0 {
			m := signed
			m.Signature = append([]byte(nil), signed.Signature...)
			m.Signature[uint(flipAt)%SignatureLen] ^= flip
			refuse("a flipped signature bit", d, m)
		}
	})
}
