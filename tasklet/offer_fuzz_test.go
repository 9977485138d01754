package tasklet

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// fuzzKey is a fixed Ed25519 identity, so that saved crashers that carry
// an envelope still verify against the same peer ID.
func fuzzKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatalf("GenerateEd25519Key: %v", err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		t.Fatalf("IDFromPrivateKey: %v", err)
	}
	return priv, id
}

// FuzzOfferPayload signs arbitrary bytes as an offer payload with the
// coordinator's key, so the fuzzer reaches the content checks behind the
// signature, and checks what a worker relies on for every offer it opens:
//   - every refusal is a *DeclinedError with a reason on the wire pattern;
//   - the same envelope from any other peer is refused;
//   - an accepted offer has a valid spec whose CID is SpecCID, at most
//     MaxHints parseable hints, and an expiry in (now, now+MaxOfferTTL];
//   - sealed again it opens to the same offer (same spec CID, nonce,
//     expiry and hints).
func FuzzOfferPayload(f *testing.F) {
	key, id := fuzzKey(f)
	_, other := testKey(f)
	now := fuzzNow()
	good := testOffer(f, now)
	many := testOffer(f, now)
	many.Hints = nil
	for i := 0; i < MaxHints; i++ {
		many.Hints = append(many.Hints, Hint{ID: other.String(), Addrs: []string{"/ip4/127.0.0.1/tcp/4001", "/ip6/::1/udp/4001/quic-v1"}})
	}
	for _, o := range []OfferRecord{good, many} {
		b, err := json.Marshal(o)
		if err != nil {
			f.Fatalf("json.Marshal: %v", err)
		}
		if _, err := OpenOffer(sealRaw(f, key, b), id, now); err != nil {
			f.Fatalf("the valid seed does not open: %v", err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"spec":{"v":1},"specCid":"","nonce":"00","expires":1}`))
	f.Add([]byte(`{"hints":[{"id":"x","addrs":["/ip4/1.2.3.4"]}]}`))

	f.Fuzz(func(t *testing.T, payload []byte) {
		env := sealRaw(t, key, payload)
		if _, err := OpenOffer(env, other, now); err == nil || !IsDeclined(err) {
			t.Fatalf("OpenOffer from a peer that did not sign: err = %v, want a decline", err)
		}
		o, err := OpenOffer(env, id, now)
		if err != nil {
			var d *DeclinedError
			if !errors.As(err, &d) || !reasonPattern.MatchString(d.Reason) {
				t.Fatalf("OpenOffer: err = %v, want a *DeclinedError", err)
			}
			return
		}
		checkOpened(t, o, now)
		again, err := OpenOffer(seal(t, key, o), id, now)
		if err != nil {
			t.Fatalf("OpenOffer of the resealed offer: %v", err)
		}
		if again.SpecCID != o.SpecCID || again.Nonce != o.Nonce || again.Expires != o.Expires ||
			!reflect.DeepEqual(hintsOrNil(again.Hints), hintsOrNil(o.Hints)) {
			t.Fatalf("reseal changed the offer:\n%+v\n%+v", o, again)
		}
	})
}

// checkOpened asserts what OpenOffer promises about an offer it accepted.
func checkOpened(t *testing.T, o OfferRecord, now time.Time) {
	t.Helper()
	if err := o.Spec.Validate(); err != nil {
		t.Fatalf("accepted an offer with an invalid spec: %v", err)
	}
	c, err := o.Spec.CID()
	if err != nil || c.String() != o.SpecCID {
		t.Fatalf("accepted specCid %q for a spec whose CID is %v (%v)", o.SpecCID, c, err)
	}
	infos, err := o.AddrInfos()
	if err != nil || len(infos) > MaxHints {
		t.Fatalf("accepted %d hints: %v", len(o.Hints), err)
	}
	for _, in := range infos {
		if len(in.Addrs) > MaxHintAddrs {
			t.Fatalf("accepted a hint with %d addresses", len(in.Addrs))
		}
		for _, a := range in.Addrs {
			if _, err := ma.NewMultiaddrBytes(a.Bytes()); err != nil {
				t.Fatalf("hint address %s does not survive its binary form: %v", a, err)
			}
		}
	}
	if o.Expires <= now.UnixMilli() || o.Expires > now.Add(MaxOfferTTL).UnixMilli() {
		t.Fatalf("accepted expiry %d outside (now, now+%s]", o.Expires, MaxOfferTTL)
	}
	if o.Spec.Deadline <= now.UnixMilli() {
		t.Fatalf("accepted a tasklet whose deadline %d has passed", o.Spec.Deadline)
	}
}

func hintsOrNil(h []Hint) []Hint {
	if len(h) == 0 {
		return nil
	}
	out := make([]Hint, len(h))
	for i, x := range h {
		out[i] = Hint{ID: x.ID}
		if len(x.Addrs) > 0 {
			out[i].Addrs = x.Addrs
		}
	}
	return out
}
