package verify

import (
	"crypto/ecdsa"
	"errors"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

const (
	workerPeer  = "12D3KooWCdG56E8PmTiY1fbNdstB3i9ZtLRLbcatvUigWj6kBJN2"
	coordPeer   = "12D3KooWJxvKmQYjQ7f8h7GCYWtTBxGggPFskR6ZU5GP341NgjVZ"
	taskletText = "bafkreidlkti7wqw6s3gukygmfhducaiw7izdwnrca53rdojqc6tshtu7cm"
)

func rawCID(t testing.TB, s string) string {
	t.Helper()
	h, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.Raw, h).String()
}

func key(t testing.TB, hex string) *ecdsa.PrivateKey {
	t.Helper()
	k, err := crypto.HexToECDSA(hex)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signed(t testing.TB, k *ecdsa.PrivateKey, d receipt.Domain, tasklet, output string) receipt.Receipt {
	t.Helper()
	r := receipt.Receipt{TaskletCID: tasklet, OutputCID: output, WorkerPeer: workerPeer, Coordinator: coordPeer,
		JobID: "job", Round: 2, Samples: 100, StartedAt: 1767225600000, FinishedAt: 1767225601000, ComputeMillis: 900}
	s, err := receipt.Sign(k, d, r)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCheckEquivocation(t *testing.T) {
	d := receipt.Domain{ChainID: 1337}
	worker := key(t, "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
	other := key(t, "8a1f9a8f95be41cd7ccb6168179afb4504aefe388d1e14474d32c45c72ce7b7a")
	out1, out2 := rawCID(t, "output 1"), rawCID(t, "output 2")
	a := signed(t, worker, d, taskletText, out1)
	b := signed(t, worker, d, taskletText, out2)

	addr, err := CheckEquivocation(d, a, b)
	if err != nil || addr != crypto.PubkeyToAddress(worker.PublicKey) {
		t.Fatalf("CheckEquivocation = %s, %v; want the worker's address", addr, err)
	}

	forged := b
	forged.OutputCID = rawCID(t, "output 3") // signature no longer covers it
	foreign := signed(t, other, d, taskletText, out2)
	wrongDomain := signed(t, worker, receipt.Domain{ChainID: 1}, taskletText, out2)
	framed := foreign
	framed.Worker = a.Worker // names the worker, signed by someone else
	tests := []struct {
		name string
		a, b receipt.Receipt
		want string
	}{
		{"same output", a, signed(t, worker, d, taskletText, out1), "both receipts name output"},
		{"two tasklets", a, signed(t, worker, d, rawCID(t, "other tasklet"), out2), "two tasklets"},
		{"two workers", a, foreign, "signed by two workers"},
		{"forged output", a, forged, "second receipt"},
		{"framed worker", framed, a, "first receipt"},
		{"other domain", a, wrongDomain, "second receipt"},
	}
	for _, tt := range tests {
		_, err := CheckEquivocation(d, tt.a, tt.b)
		if !errors.Is(err, ErrNotEquivocation) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: CheckEquivocation error %v, want ErrNotEquivocation containing %q", tt.name, err, tt.want)
		}
	}

	// Gossip form: round trip, size cap, shape checks.
	enc, err := Proof{A: a, B: b}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	p, err := DecodeProof(enc)
	if err != nil {
		t.Fatalf("DecodeProof: %v", err)
	}
	if got, err := p.Check(d); err != nil || got != addr {
		t.Errorf("decoded proof Check = %s, %v; want %s", got, err, addr)
	}
	bad := map[string][]byte{
		"too large":     []byte(strings.Repeat(" ", MaxProofSize+1)),
		"not JSON":      []byte("{"),
		"unknown field": []byte(`{"a":{},"b":{},"c":1}`),
		"empty receipt": []byte(`{"a":{},"b":{}}`),
	}
	for name, b := range bad {
		if _, err := DecodeProof(b); err == nil {
			t.Errorf("DecodeProof(%s) succeeded, want an error", name)
		}
	}
	huge := a
	huge.JobID = strings.Repeat("j", 3*receipt.MaxJSONSize)
	if _, err := (Proof{A: huge, B: b}).Encode(); err == nil {
		t.Error("Encode of an oversized proof succeeded")
	}
}

// FuzzDecodeProof feeds gossip bytes to DecodeProof and Check, as a
// relaying coordinator would. Properties: a decoded proof re-encodes and
// decodes to the same proof; Check either refuses with ErrNotEquivocation
// or names a worker that signed both receipts, for one tasklet, with two
// outputs, under the fixed domain.
func FuzzDecodeProof(f *testing.F) {
	d := receipt.Domain{ChainID: 1337}
	worker := key(f, "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291")
	out1, out2 := rawCID(f, "output 1"), rawCID(f, "output 2")
	a := signed(f, worker, d, taskletText, out1)
	b := signed(f, worker, d, taskletText, out2)
	for _, p := range []Proof{{A: a, B: b}, {A: a, B: a}, {A: b, B: a}} {
		enc, err := p.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(enc)
	}
	f.Add([]byte(`{"a":{},"b":{}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := DecodeProof(data)
		if err != nil {
			return
		}
		enc, err := p.Encode()
		if err != nil {
			t.Fatalf("decoded proof does not encode: %v", err)
		}
		back, err := DecodeProof(enc)
		if err != nil {
			t.Fatalf("re-encoded proof does not decode: %v", err)
		}
		if again, _ := back.Encode(); string(again) != string(enc) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, again)
		}
		addr, err := p.Check(d)
		if err != nil {
			if !errors.Is(err, ErrNotEquivocation) {
				t.Fatalf("Check refused without ErrNotEquivocation: %v", err)
			}
			return
		}
		sa, errA := receipt.Verify(d, p.A)
		sb, errB := receipt.Verify(d, p.B)
		if errA != nil || errB != nil || sa != addr || sb != addr || p.A.TaskletCID != p.B.TaskletCID || p.A.OutputCID == p.B.OutputCID {
			t.Fatalf("Check accepted a proof that does not hold: %s, %v, %v", addr, errA, errB)
		}
	})
}
