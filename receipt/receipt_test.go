package receipt

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/signer/core/apitypes"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multibase"
	"pgregory.net/rapid"
)

// Fixed identities for the golden vector (see TestGoldenVector).
const (
	goldenKeyHex   = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291"
	goldenAddr     = "0x71562b71999873DB5b286dF957af199Ec94617F7"
	workerPeerID   = "12D3KooWCdG56E8PmTiY1fbNdstB3i9ZtLRLbcatvUigWj6kBJN2"
	coordPeerID    = "12D3KooWJxvKmQYjQ7f8h7GCYWtTBxGggPFskR6ZU5GP341NgjVZ"
	taskletCIDText = "bafkreidlkti7wqw6s3gukygmfhducaiw7izdwnrca53rdojqc6tshtu7cm" // raw sha256("tasklet")
	outputCIDText  = "bafybeiha52f3kbuf4bp2b5d62bbahluvh7p5avpvxuujf2qymucckt4mhi" // dag-pb sha256("output")
	goldenChainID  = 1337
)

func goldenKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.HexToECDSA(goldenKeyHex)
	if err != nil {
		t.Fatalf("HexToECDSA: %v", err)
	}
	return k
}

func sample() Receipt {
	r := Receipt{
		TaskletCID:    taskletCIDText,
		OutputCID:     outputCIDText,
		WorkerPeer:    workerPeerID,
		Coordinator:   coordPeerID,
		JobID:         "mnist-softmax",
		Round:         3,
		Samples:       6000,
		StartedAt:     1767225600000,
		FinishedAt:    1767225601500,
		ComputeMillis: 1200,
		Price:         "250000000000000000", // 0.25 of an 18-decimal token
	}
	r.SetLoss(0.6931472)
	return r
}

func TestSignVerifyRoundTrip(t *testing.T) {
	key := goldenKey(t)
	for _, d := range []Domain{
		{ChainID: goldenChainID},
		{ChainID: 1, VerifyingContract: common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3")},
	} {
		signed, err := Sign(key, d, sample())
		if err != nil {
			t.Fatalf("Sign(%+v): %v", d, err)
		}
		if got, want := signed.Worker, common.HexToAddress(goldenAddr); got != want {
			t.Errorf("Sign set Worker %s, want %s", got, want)
		}
		if v := signed.Signature[64]; v != 27 && v != 28 {
			t.Errorf("signature v = %d, want 27 or 28", v)
		}
		got, err := Verify(d, signed)
		if err != nil {
			t.Fatalf("Verify(%+v): %v", d, err)
		}
		if got != signed.Worker {
			t.Errorf("Verify recovered %s, want %s", got, signed.Worker)
		}
	}
}

func TestVerifyRejectsTampering(t *testing.T) {
	d := Domain{ChainID: goldenChainID}
	signed, err := Sign(goldenKey(t), d, sample())
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	tests := []struct {
		name   string
		domain Domain
		edit   func(*Receipt)
	}{
		{"tasklet", d, func(r *Receipt) { r.TaskletCID = outputCIDText }},
		{"output", d, func(r *Receipt) { r.OutputCID = taskletCIDText }},
		{"workerPeer", d, func(r *Receipt) { r.WorkerPeer = coordPeerID }},
		{"coordinator", d, func(r *Receipt) { r.Coordinator = workerPeerID }},
		{"jobId", d, func(r *Receipt) { r.JobID = "mnist-mlp" }},
		{"round", d, func(r *Receipt) { r.Round++ }},
		{"samples", d, func(r *Receipt) { r.Samples *= 2 }},
		{"loss", d, func(r *Receipt) { r.SetLoss(0.5) }},
		{"startedAt", d, func(r *Receipt) { r.StartedAt-- }},
		{"finishedAt", d, func(r *Receipt) { r.FinishedAt++ }},
		{"computeMillis", d, func(r *Receipt) { r.ComputeMillis = 1 }},
		{"chainId", Domain{ChainID: 1}, func(*Receipt) {}},
		{"contract", Domain{ChainID: goldenChainID, VerifyingContract: common.Address{1}}, func(*Receipt) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed
			r.Signature = bytes.Clone(signed.Signature)
			tt.edit(&r)
			got, err := Verify(tt.domain, r)
			if !errors.Is(err, ErrWrongSigner) {
				t.Fatalf("Verify after changing %s: err = %v, want ErrWrongSigner", tt.name, err)
			}
			if got == signed.Worker {
				t.Errorf("Verify after changing %s recovered the original signer %s", tt.name, got)
			}
		})
	}
}

func TestVerifyIgnoresTextEncoding(t *testing.T) {
	d := Domain{ChainID: goldenChainID}
	signed, err := Sign(goldenKey(t), d, sample())
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	c, err := cid.Decode(signed.OutputCID)
	if err != nil {
		t.Fatalf("cid.Decode: %v", err)
	}
	b58, err := c.StringOfBase(multibase.Base58BTC)
	if err != nil {
		t.Fatalf("StringOfBase: %v", err)
	}
	signed.OutputCID = b58
	if _, err := Verify(d, signed); err != nil {
		t.Errorf("Verify with the output CID re-encoded as %s: %v; the signature covers binary CIDs", b58, err)
	}
}

func TestVerifyWrongKey(t *testing.T) {
	d := Domain{ChainID: goldenChainID}
	other, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	signed, err := Sign(other, d, sample())
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	signed.Worker = common.HexToAddress(goldenAddr) // claim someone else's work
	got, err := Verify(d, signed)
	if !errors.Is(err, ErrWrongSigner) {
		t.Fatalf("Verify: err = %v, want ErrWrongSigner", err)
	}
	// Worker is a signed field, so the claim changes the digest and the
	// recovered key is neither the claimed nor the real one.
	if got == signed.Worker {
		t.Errorf("Verify recovered the claimed worker %s from another key's signature", got)
	}

	pre := sample()
	pre.Worker = common.HexToAddress(goldenAddr)
	if _, err := Sign(other, d, pre); err == nil {
		t.Error("Sign with a key that is not the receipt's worker: got nil error")
	}
}

func TestVerifyMalformedSignature(t *testing.T) {
	d := Domain{ChainID: goldenChainID}
	signed, err := Sign(goldenKey(t), d, sample())
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	// The same signature with s' = n - s is valid for ecrecover but
	// malleable; EIP-2 and OpenZeppelin reject it, and so must we.
	n := crypto.S256().Params().N
	s := new(big.Int).SetBytes(signed.Signature[32:64])
	highS := bytes.Clone(signed.Signature)
	copy(highS[32:64], common.LeftPadBytes(new(big.Int).Sub(n, s).Bytes(), 32))
	highS[64] ^= 1 // 27 <-> 28

	tests := []struct {
		name string
		sig  []byte
	}{
		{"empty", nil},
		{"short", signed.Signature[:64]},
		{"v=0", append(bytes.Clone(signed.Signature[:64]), signed.Signature[64]-27)},
		{"v=29", append(bytes.Clone(signed.Signature[:64]), 29)},
		{"r=0", append(make([]byte, 32), signed.Signature[32:]...)},
		{"high-s", highS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := signed
			r.Signature = tt.sig
			if _, err := Verify(d, r); !errors.Is(err, ErrBadSignature) {
				t.Errorf("Verify with %s signature: err = %v, want ErrBadSignature", tt.name, err)
			}
		})
	}
}

// TestGoldenVector pins the encoding: if this fails, every signed receipt
// and every contract that checks them has changed meaning.
func TestGoldenVector(t *testing.T) {
	const (
		wantTypeHash = "ef1b990b3777bbf5da0036cda7842cdab1ee2e4165ffd420af33a23febc783f3" // keccak256(TypeString)
		wantDigest   = "c4e179f89985a1d8019dcf9bdf3120cfd140e632147d5a1b32e66aa746898b46"
		wantSig      = "73921d82b34ca34e425421991b6defb940692b1ad75954f52e6b4030df8ded0d238eba79f391ecaa02d1e53e7220d01d358a67898564f28f0b4544fa9a815abe1c"
	)
	d := Domain{ChainID: goldenChainID}
	digest, err := Hash(d, sample())
	if err != nil {
		t.Fatalf("Hash: %v", err)
	}
	signed, err := Sign(goldenKey(t), d, sample())
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	checks := []struct{ name, got, want string }{
		{"type hash", hex.EncodeToString(crypto.Keccak256([]byte(TypeString))), wantTypeHash},
		{"digest", hex.EncodeToString(digest[:]), wantDigest},
		{"signature", hex.EncodeToString(signed.Signature), wantSig},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.name, c.got, c.want)
		}
	}
}

func TestHashMatchesGoEthereum(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := sample()
		r.JobID = rapid.StringN(1, 40, MaxJobIDLen).Draw(t, "job")
		r.Round = rapid.Uint64().Draw(t, "round")
		r.Samples = rapid.Uint64().Draw(t, "samples")
		r.LossBits = rapid.Uint32().Draw(t, "loss")
		r.StartedAt = rapid.Int64Range(0, math.MaxInt64/2).Draw(t, "started")
		r.FinishedAt = r.StartedAt + rapid.Int64Range(0, math.MaxInt64/2).Draw(t, "took")
		r.ComputeMillis = rapid.Uint64().Draw(t, "compute")
		r.Worker = common.BytesToAddress(rapid.SliceOfN(rapid.Byte(), 20, 20).Draw(t, "worker"))
		d := Domain{
			ChainID:           rapid.Uint64().Draw(t, "chain"),
			VerifyingContract: common.BytesToAddress(rapid.SliceOfN(rapid.Byte(), 20, 20).Draw(t, "contract")),
		}
		ours, err := Hash(d, r)
		if err != nil {
			t.Fatalf("Hash: %v", err)
		}
		td, err := TypedData(d, r)
		if err != nil {
			t.Fatalf("TypedData: %v", err)
		}
		theirs, _, err := apitypes.TypedDataAndHash(td)
		if err != nil {
			t.Fatalf("apitypes.TypedDataAndHash: %v", err)
		}
		if !bytes.Equal(ours[:], theirs) {
			t.Fatalf("Hash = %x, go-ethereum = %x", ours, theirs)
		}
	})
}

func TestTypeStringsMatchGoEthereum(t *testing.T) {
	td, err := TypedData(Domain{ChainID: 1}, sample())
	if err != nil {
		t.Fatalf("TypedData: %v", err)
	}
	for _, tt := range []struct{ primary, want string }{
		{"Receipt", TypeString},
		{"EIP712Domain", DomainTypeString},
	} {
		if got := string(td.EncodeType(tt.primary)); got != tt.want {
			t.Errorf("EncodeType(%s) = %q, want %q", tt.primary, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		field string
		edit  func(*Receipt)
	}{
		{"taskletCid", func(r *Receipt) { r.TaskletCID = "" }},
		{"taskletCid", func(r *Receipt) { r.TaskletCID = "not-a-cid" }},
		{"outputCid", func(r *Receipt) { r.OutputCID = strings.Repeat("b", MaxCIDLen+1) }},
		{"workerPeer", func(r *Receipt) { r.WorkerPeer = "nobody" }},
		{"coordinator", func(r *Receipt) { r.Coordinator = "" }},
		{"jobId", func(r *Receipt) { r.JobID = "" }},
		{"jobId", func(r *Receipt) { r.JobID = strings.Repeat("j", MaxJobIDLen+1) }},
		{"jobId", func(r *Receipt) { r.JobID = "\xff" }},
		{"startedAt", func(r *Receipt) { r.StartedAt = -1 }},
		{"finishedAt", func(r *Receipt) { r.FinishedAt = r.StartedAt - 1 }},
	}
	for _, tt := range tests {
		r := sample()
		tt.edit(&r)
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), "receipt."+tt.field) {
			t.Errorf("Validate with bad %s: err = %v, want one naming receipt.%s", tt.field, err, tt.field)
		}
		if _, herr := Hash(Domain{}, r); herr == nil {
			t.Errorf("Hash with bad %s: got nil error", tt.field)
		}
	}
	if err := sample().Validate(); err != nil {
		t.Errorf("Validate(sample) = %v, want nil", err)
	}
}

func TestDecode(t *testing.T) {
	signed, err := Sign(goldenKey(t), Domain{ChainID: goldenChainID}, sample())
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	signed.LossBits = math.Float32bits(float32(math.NaN())) // NaN must survive JSON
	b, err := json.Marshal(signed)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if !reflect.DeepEqual(got, signed) {
		t.Errorf("Decode(Marshal(r)) = %+v, want %+v", got, signed)
	}

	unsigned, _ := json.Marshal(sample())
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"oversized", append(b, bytes.Repeat([]byte(" "), MaxJSONSize)...), "limit"},
		{"not json", []byte("{"), "JSON"},
		{"unsigned", unsigned, "signature"},
		{"bad field", bytes.Replace(b, []byte(taskletCIDText), []byte("x"), 1), "taskletCid"},
	}
	for _, tt := range tests {
		if _, err := Decode(tt.in); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Decode(%s): err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	signed, err := Sign(goldenKey(f), Domain{ChainID: goldenChainID}, sample())
	if err != nil {
		f.Fatalf("Sign: %v", err)
	}
	b, _ := json.Marshal(signed)
	f.Add(b)
	f.Add([]byte(`{"taskletCid":"x"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := Decode(in)
		if err != nil {
			return
		}
		// Anything Decode accepts can be hashed and survives a round trip.
		if _, err := Hash(Domain{}, r); err != nil {
			t.Fatalf("Decode accepted a receipt Hash rejects: %v", err)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("json.Marshal of a decoded receipt: %v", err)
		}
		r2, err := Decode(again)
		if err != nil {
			t.Fatalf("Decode(Marshal(Decode(x))): %v", err)
		}
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip changed the receipt: %+v != %+v", r, r2)
		}
	})
}
