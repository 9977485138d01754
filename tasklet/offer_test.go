package tasklet

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	"github.com/libp2p/go-libp2p/core/test"
	ma "github.com/multiformats/go-multiaddr"
)

func testKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := test.RandTestKeyPair(crypto.Ed25519, 0)
	if err != nil {
		t.Fatalf("RandTestKeyPair: %v", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatalf("IDFromPrivateKey: %v", err)
	}
	return priv, id
}

func testOffer(t testing.TB, now time.Time) OfferRecord {
	t.Helper()
	_, provider := testKey(t)
	hint := peer.AddrInfo{ID: provider, Addrs: []ma.Multiaddr{ma.StringCast("/ip4/127.0.0.1/tcp/4001")}}
	o, err := NewOfferRecord(testSpec(t), []peer.AddrInfo{hint}, now, time.Minute)
	if err != nil {
		t.Fatalf("NewOfferRecord: %v", err)
	}
	return o
}

func seal(t testing.TB, key crypto.PrivKey, o OfferRecord) []byte {
	t.Helper()
	b, err := SealOffer(key, o)
	if err != nil {
		t.Fatalf("SealOffer: %v", err)
	}
	return b
}

// otherRecord is a record in another codec, signed under our domain.
type otherRecord struct{ Note string }

func (*otherRecord) Domain() string                   { return offerDomain }
func (*otherRecord) Codec() []byte                    { return []byte("/gridswarm/other/1") }
func (r *otherRecord) MarshalRecord() ([]byte, error) { return json.Marshal(r) }
func (r *otherRecord) UnmarshalRecord(b []byte) error { return json.Unmarshal(b, r) }

func TestOpenOffer(t *testing.T) {
	now := time.Now()
	key, id := testKey(t)
	otherKey, _ := testKey(t)
	good := testOffer(t, now)

	edited := func(edit func(*OfferRecord)) []byte {
		o := testOffer(t, now)
		edit(&o)
		return seal(t, key, o)
	}
	tampered := seal(t, key, good)
	tampered[len(tampered)-1] ^= 1 // inside the signature
	unsigned, _ := json.Marshal(good)
	env, err := record.Seal(&otherRecord{Note: "hi"}, key)
	if err != nil {
		t.Fatalf("record.Seal: %v", err)
	}
	otherCodec, _ := env.Marshal()

	tests := []struct {
		name     string
		envelope []byte
		want     string // decline reason, "" for success
	}{
		{"good", seal(t, key, good), ""},
		{"signed by another peer", seal(t, otherKey, good), ReasonBadSignature},
		{"tampered signature", tampered, ReasonBadSignature},
		{"unsigned JSON", unsigned, ReasonBadSignature},
		{"garbage", []byte("garbage"), ReasonBadSignature},
		{"other codec", otherCodec, ReasonMalformed},
		{"spec CID mismatch", edited(func(o *OfferRecord) { o.Spec.Seed++ }), ReasonMalformed},
		{"invalid spec", edited(func(o *OfferRecord) { o.Spec.JobID = "" }), ReasonMalformed},
		{"bad hint", edited(func(o *OfferRecord) { o.Hints[0].Addrs = []string{"not an addr"} }), ReasonMalformed},
		{"too many hints", edited(func(o *OfferRecord) { o.Hints = make([]Hint, MaxHints+1) }), ReasonMalformed},
		{"prefetch not a CID", edited(func(o *OfferRecord) { o.Prefetch = []string{"next shard"} }), ReasonMalformed},
		{"too much prefetch", edited(func(o *OfferRecord) {
			for i := range MaxPrefetch + 1 {
				o.Prefetch = append(o.Prefetch, rawCID(t, fmt.Sprint("shard ", i)))
			}
		}), ReasonMalformed},
		{"expired", edited(func(o *OfferRecord) { o.Expires = now.Add(-time.Second).UnixMilli() }), ReasonExpired},
		{"far future", edited(func(o *OfferRecord) { o.Expires = now.Add(time.Hour).UnixMilli() }), ReasonMalformed},
		{"deadline passed", edited(func(o *OfferRecord) {
			o.Spec.Deadline = now.Add(-time.Minute).UnixMilli()
			c, _ := o.Spec.CID()
			o.SpecCID = c.String()
		}), ReasonExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := OpenOffer(tt.envelope, id, now)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("OpenOffer: %v", err)
				}
				if got.SpecCID != good.SpecCID || got.Nonce != good.Nonce || len(got.Hints) != 1 {
					t.Errorf("OpenOffer = %+v, want %+v", got, good)
				}
				return
			}
			var d *DeclinedError
			if !errors.As(err, &d) || d.Reason != tt.want {
				t.Fatalf("OpenOffer: err = %v, want a decline for %s", err, tt.want)
			}
			if d.Detail == "" {
				t.Errorf("decline %s has no detail", d.Reason)
			}
		})
	}
}

func TestNewOfferRecord(t *testing.T) {
	now := time.Now()
	_, id := testKey(t)
	var addrs []ma.Multiaddr
	for i := range MaxHintAddrs + 3 {
		addrs = append(addrs, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 4001+i)))
	}
	o, err := NewOfferRecord(testSpec(t), []peer.AddrInfo{{ID: id, Addrs: addrs}}, now, time.Minute)
	if err != nil {
		t.Fatalf("NewOfferRecord: %v", err)
	}
	if got := len(o.Hints[0].Addrs); got != MaxHintAddrs {
		t.Errorf("hint kept %d addresses, want %d", got, MaxHintAddrs)
	}
	if got, want := o.Expires, now.Add(time.Minute).UnixMilli(); got != want {
		t.Errorf("Expires = %d, want %d", got, want)
	}
	other, err := NewOfferRecord(testSpec(t), nil, now, time.Minute)
	if err != nil {
		t.Fatalf("NewOfferRecord: %v", err)
	}
	if other.Nonce == o.Nonce {
		t.Error("two offers got the same nonce")
	}

	bad := []struct {
		name  string
		spec  Spec
		hints []peer.AddrInfo
		ttl   time.Duration
	}{
		{"too many hints", testSpec(t), make([]peer.AddrInfo, MaxHints+1), time.Minute},
		{"zero ttl", testSpec(t), nil, 0},
		{"long ttl", testSpec(t), nil, MaxOfferTTL + time.Second},
		{"invalid spec", Spec{}, nil, time.Minute},
	}
	for _, tt := range bad {
		if _, err := NewOfferRecord(tt.spec, tt.hints, now, tt.ttl); err == nil {
			t.Errorf("NewOfferRecord(%s): got nil error", tt.name)
		}
	}
}

func TestNonceText(t *testing.T) {
	n := Nonce{0xde, 0xad, 0xbe, 0xef}
	b, err := json.Marshal(n)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if want := `"deadbeef000000000000000000000000"`; string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back Nonce
	if err := json.Unmarshal(b, &back); err != nil || back != n {
		t.Errorf("Unmarshal = %x, %v; want %x", back, err, n)
	}
	for _, in := range []string{`"dead"`, `"zz` + strings.Repeat("0", 30) + `"`, `12`} {
		if err := json.Unmarshal([]byte(in), &back); err == nil {
			t.Errorf("Unmarshal(%s): got nil error", in)
		}
	}
}

func FuzzOpenOffer(f *testing.F) {
	key, id := testKey(f)
	now := time.Now()
	good := testOffer(f, now)
	f.Add(seal(f, key, good))
	payload, _ := json.Marshal(good)
	f.Add(payload)
	f.Fuzz(func(t *testing.T, in []byte) {
		// Both as an envelope and as a signed payload: neither may panic,
		// and every refusal is a decline with a known reason.
		for _, env := range [][]byte{in, sealRaw(t, key, in)} {
			o, err := OpenOffer(env, id, now)
			if err == nil {
				if cerr := o.check(now); cerr != nil {
					t.Fatalf("OpenOffer accepted an offer its check refuses: %v", cerr)
				}
				continue
			}
			var d *DeclinedError
			if !errors.As(err, &d) || !reasonPattern.MatchString(d.Reason) {
				t.Fatalf("OpenOffer: err = %v, want a *DeclinedError", err)
			}
		}
	})
}

// rawRecord signs arbitrary bytes as an offer payload.
type rawRecord []byte

func (rawRecord) Domain() string                    { return offerDomain }
func (rawRecord) Codec() []byte                     { return offerCodec() }
func (r *rawRecord) MarshalRecord() ([]byte, error) { return *r, nil }
func (r *rawRecord) UnmarshalRecord(b []byte) error { *r = b; return nil }

func sealRaw(t testing.TB, key crypto.PrivKey, payload []byte) []byte {
	r := rawRecord(payload)
	env, err := record.Seal(&r, key)
	if err != nil {
		t.Fatalf("record.Seal: %v", err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return b
}
