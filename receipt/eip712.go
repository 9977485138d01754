package receipt

import (
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	gmath "github.com/ethereum/go-ethereum/common/math"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
)

// The EIP-712 domain's fixed members.
const (
	DomainName    = "gridswarm"
	DomainVersion = "1"
)

// DomainTypeString and TypeString are the exact EIP-712 encodeType strings.
// A contract's RECEIPT_TYPEHASH is keccak256(TypeString).
const (
	DomainTypeString = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
	TypeString       = "Receipt(bytes taskletCid,bytes outputCid,address worker,bytes workerPeer,bytes coordinator,string jobId,uint64 round,uint64 samples,uint32 lossBits,uint64 startedAt,uint64 finishedAt,uint64 computeMillis,uint256 price)"
)

// Errors returned by Verify.
var (
	// ErrBadSignature: the signature is not 65 bytes of a valid low-s
	// secp256k1 signature with v = 27 or 28.
	ErrBadSignature = errors.New("malformed receipt signature")
	// ErrWrongSigner: the signature is valid but was made by another key
	// than Receipt.Worker's (or over different receipt fields).
	ErrWrongSigner = errors.New("receipt signed by a different key than its worker address")
)

// Domain is the part of the EIP-712 domain that varies per deployment.
type Domain struct {
	ChainID           uint64
	VerifyingContract common.Address // WorkerStake when a chain is configured; zero when settlement is off
}

// DomainSeparator returns hashStruct(EIP712Domain) for d.
func DomainSeparator(d Domain) [32]byte {
	var out [32]byte
	copy(out[:], crypto.Keccak256(
		crypto.Keccak256([]byte(DomainTypeString)),
		crypto.Keccak256([]byte(DomainName)),
		crypto.Keccak256([]byte(DomainVersion)),
		word(d.ChainID),
		common.LeftPadBytes(d.VerifyingContract.Bytes(), 32),
	))
	return out
}

// StructHash returns hashStruct(Receipt) for r. Signature is not covered.
func StructHash(r Receipt) ([32]byte, error) {
	var out [32]byte
	e, err := r.encodable()
	if err != nil {
		return out, err
	}
	copy(out[:], crypto.Keccak256(
		crypto.Keccak256([]byte(TypeString)),
		crypto.Keccak256(e.tasklet),
		crypto.Keccak256(e.output),
		common.LeftPadBytes(r.Worker.Bytes(), 32),
		crypto.Keccak256(e.workerPeer),
		crypto.Keccak256(e.coordinator),
		crypto.Keccak256([]byte(r.JobID)),
		word(r.Round),
		word(r.Samples),
		word(uint64(r.LossBits)),
		word(uint64(r.StartedAt)), // encodable rejects negative times
		word(uint64(r.FinishedAt)),
		word(r.ComputeMillis),
		common.LeftPadBytes(e.price.Bytes(), 32),
	))
	return out, nil
}

// Hash returns the EIP-712 digest keccak256(0x19 0x01 ‖ domainSeparator ‖
// hashStruct(r)) that the worker signs.
func Hash(d Domain, r Receipt) ([32]byte, error) {
	var out [32]byte
	sh, err := StructHash(r)
	if err != nil {
		return out, fmt.Errorf("cannot hash receipt: %w", err)
	}
	ds := DomainSeparator(d)
	copy(out[:], crypto.Keccak256([]byte{0x19, 0x01}, ds[:], sh[:]))
	return out, nil
}

// Sign sets r.Worker to key's address and r.Signature to the EIP-712
// signature of r under d. It refuses a receipt that already names another
// worker address.
func Sign(key *ecdsa.PrivateKey, d Domain, r Receipt) (Receipt, error) {
	addr := crypto.PubkeyToAddress(key.PublicKey)
	if r.Worker != (common.Address{}) && r.Worker != addr {
		return Receipt{}, fmt.Errorf("cannot sign receipt for worker %s with the key of %s: use that worker's key", r.Worker, addr)
	}
	r.Worker = addr
	digest, err := Hash(d, r)
	if err != nil {
		return Receipt{}, err
	}
	sig, err := crypto.Sign(digest[:], key)
	if err != nil {
		return Receipt{}, fmt.Errorf("cannot sign receipt: %w", err)
	}
	sig[64] += 27 // go-ethereum yields v = 0|1; ecrecover wants 27|28
	r.Signature = sig
	return r, nil
}

// Verify recovers the address that signed r under d. It fails with
// ErrBadSignature if the signature is malformed and with ErrWrongSigner
// (returning the recovered address) if it differs from r.Worker.
func Verify(d Domain, r Receipt) (common.Address, error) {
	if len(r.Signature) != SignatureLen {
		return common.Address{}, fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(r.Signature), SignatureLen)
	}
	v := r.Signature[64]
	if v != 27 && v != 28 {
		return common.Address{}, fmt.Errorf("%w: v is %d, want 27 or 28", ErrBadSignature, v)
	}
	rr := new(big.Int).SetBytes(r.Signature[:32])
	ss := new(big.Int).SetBytes(r.Signature[32:64])
	if !crypto.ValidateSignatureValues(v-27, rr, ss, true) {
		return common.Address{}, fmt.Errorf("%w: r or s out of range (s must be in the lower half order)", ErrBadSignature)
	}
	digest, err := Hash(d, r)
	if err != nil {
		return common.Address{}, err
	}
	sig := append([]byte(nil), r.Signature...)
	sig[64] = v - 27
	pub, err := crypto.SigToPub(digest[:], sig)
	if err != nil {
		return common.Address{}, fmt.Errorf("%w: cannot recover the signer: %v", ErrBadSignature, err)
	}
	signer := crypto.PubkeyToAddress(*pub)
	if signer != r.Worker {
		return signer, fmt.Errorf("%w: signed by %s, receipt names %s", ErrWrongSigner, signer, r.Worker)
	}
	return signer, nil
}

// TypedData returns r under d as go-ethereum typed data, the form a wallet
// signs with eth_signTypedData_v4. Its TypedDataAndHash equals Hash(d, r).
func TypedData(d Domain, r Receipt) (apitypes.TypedData, error) {
	e, err := r.encodable()
	if err != nil {
		return apitypes.TypedData{}, fmt.Errorf("cannot build typed data: %w", err)
	}
	u := func(x uint64) *big.Int { return new(big.Int).SetUint64(x) }
	return apitypes.TypedData{
		Types: apitypes.Types{
			"EIP712Domain": {
				{Name: "name", Type: "string"},
				{Name: "version", Type: "string"},
				{Name: "chainId", Type: "uint256"},
				{Name: "verifyingContract", Type: "address"},
			},
			"Receipt": receiptFields(),
		},
		PrimaryType: "Receipt",
		Domain: apitypes.TypedDataDomain{
			Name:              DomainName,
			Version:           DomainVersion,
			ChainId:           (*gmath.HexOrDecimal256)(u(d.ChainID)),
			VerifyingContract: d.VerifyingContract.Hex(),
		},
		Message: apitypes.TypedDataMessage{
			"taskletCid":    hexutil.Bytes(e.tasklet),
			"outputCid":     hexutil.Bytes(e.output),
			"worker":        r.Worker.Hex(),
			"workerPeer":    hexutil.Bytes(e.workerPeer),
			"coordinator":   hexutil.Bytes(e.coordinator),
			"jobId":         r.JobID,
			"round":         u(r.Round),
			"samples":       u(r.Samples),
			"lossBits":      u(uint64(r.LossBits)),
			"startedAt":     u(uint64(r.StartedAt)),
			"finishedAt":    u(uint64(r.FinishedAt)),
			"computeMillis": u(r.ComputeMillis),
			"price":         new(big.Int).Set(e.price),
		},
	}, nil
}

// receiptFields lists Receipt's members in TypeString order.
func receiptFields() []apitypes.Type {
	return []apitypes.Type{
		{Name: "taskletCid", Type: "bytes"},
		{Name: "outputCid", Type: "bytes"},
		{Name: "worker", Type: "address"},
		{Name: "workerPeer", Type: "bytes"},
		{Name: "coordinator", Type: "bytes"},
		{Name: "jobId", Type: "string"},
		{Name: "round", Type: "uint64"},
		{Name: "samples", Type: "uint64"},
		{Name: "lossBits", Type: "uint32"},
		{Name: "startedAt", Type: "uint64"},
		{Name: "finishedAt", Type: "uint64"},
		{Name: "computeMillis", Type: "uint64"},
		{Name: "price", Type: "uint256"},
	}
}

// word is x as a big-endian 32-byte ABI word.
func word(x uint64) []byte {
	var w [32]byte
	binary.BigEndian.PutUint64(w[24:], x)
	return w[:]
}
