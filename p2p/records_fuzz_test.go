package p2p

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	ethcrypto "github.com/ethereum/go-ethereum/crypto"
	"github.com/hashicorp/serf/coordinate"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
)

// The fuzz targets run on a fixed clock and fixed keys so that a crasher
// saved under testdata/fuzz reproduces on any machine and any day.
var fuzzNow = time.UnixMilli(1_800_000_000_000)

func fuzzKey(t testing.TB, seed byte) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)))
	if err != nil {
		t.Fatalf("GenerateEd25519Key: %v", err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatalf("IDFromPrivateKey: %v", err)
	}
	return k, id
}

// rawPayload signs arbitrary bytes under another record type's domain and
// codec, so a fuzzer's payload gets past the signature check.
type rawPayload struct {
	domain string
	codec  []byte
	b      []byte
}

func (r *rawPayload) Domain() string                 { return r.domain }
func (r *rawPayload) Codec() []byte                  { return r.codec }
func (r *rawPayload) MarshalRecord() ([]byte, error) { return r.b, nil }
func (r *rawPayload) UnmarshalRecord(b []byte) error { r.b = b; return nil }
func sealPayload(t testing.TB, key crypto.PrivKey, domain string, codec, payload []byte) []byte {
	t.Helper()
	env, err := record.Seal(&rawPayload{domain: domain, codec: codec, b: payload}, key)
	if err != nil {
		t.Fatalf("record.Seal: %v", err)
	}
	b, err := env.Marshal()
	if err != nil {
		t.Fatalf("envelope Marshal: %v", err)
	}
	return b
}

// fuzzCaps is a valid capability record of the peer of key, its account
// bound by a fixed Ethereum key.
func fuzzCaps(t testing.TB, id peer.ID) Capabilities {
	t.Helper()
	eth, err := ethcrypto.ToECDSA(bytes.Repeat([]byte{9}, 32))
	if err != nil {
		t.Fatalf("ToECDSA: %v", err)
	}
	sig, err := SignBinding(func(h []byte) ([]byte, error) { return ethcrypto.Sign(h, eth) }, id)
	if err != nil {
		t.Fatalf("SignBinding: %v", err)
	}
	return Capabilities{
		Version: 1, PeerID: id.String(), Seq: 10, Time: fuzzNow.UnixMilli(), Agent: "gridswarm/test",
		Account: ethcrypto.PubkeyToAddress(eth.PublicKey).Hex(), AccountSig: sig,
		Executors: []string{"builtin", "wasm"}, CPUCores: 2, MemoryBytes: 8 << 30, DiskFree: 1 << 30,
		GridQuota: 1 << 30, Idle: true, Slots: 2, SlotsFree: 1, Throughput: 5000, BandwidthBps: 1e8,
		GPUs:  []GPUCap{{Name: "H200", MemoryTotal: 140 << 30, MemoryFree: 100 << 30, ComputeCapability: "9.0", Offered: true}},
		Coord: coordinate.NewCoordinate(coordinate.DefaultConfig()),
	}
}

// FuzzCapsPayload signs arbitrary capability payloads with the author's
// key and checks what the gossip validator and the peer table rely on:
//   - OpenCaps never panics; what it accepts is signed by the peer it
//     describes, carries a valid account binding and in-range values;
//   - the topic validator (capsState.check) accepts exactly what OpenCaps
//     accepts from its author, and never the same bytes relayed as
//     authored by another peer;
//   - storing an accepted record and estimating or observing RTT from its
//     coordinate does not panic;
//   - sealed again it opens to the same record.
func FuzzCapsPayload(f *testing.F) {
	key, id := fuzzKey(f, 1)
	_, other := fuzzKey(f, 2)
	good := fuzzCaps(f, id)
	b, err := json.Marshal(good)
	if err != nil {
		f.Fatalf("json.Marshal: %v", err)
	}
	if _, err := OpenCaps(sealPayload(f, key, capsDomain, capsCodec, b), fuzzNow); err != nil {
		f.Fatalf("the valid seed does not open: %v", err)
	}
	f.Add(b)
	bare := good
	bare.GPUs, bare.Coord = nil, nil
	b, _ = json.Marshal(bare)
	f.Add(b)
	f.Add([]byte(`{"v":1,"coord":{"Vec":[1,2,3],"Error":1,"Adjustment":0,"Height":0.00001}}`))
	f.Add([]byte(`{"v":1,"slots":-1,"slots_free":-2}`))

	f.Fuzz(func(t *testing.T, payload []byte) {
		env := sealPayload(t, key, capsDomain, capsCodec, payload)
		c, err := OpenCaps(env, fuzzNow)
		cs, serr := newCapsState()
		if serr != nil {
			t.Fatalf("newCapsState: %v", serr)
		}
		cs.now = func() time.Time { return fuzzNow }
		if cerr := cs.check(id, env); (cerr == nil) != (err == nil) {
			t.Fatalf("topic validator says %v where OpenCaps says %v", cerr, err)
		}
		if cs.check(other, env) == nil {
			t.Fatal("topic validator accepted a record relayed as authored by another peer")
		}
		if err != nil {
			return
		}
		checkCaps(t, c, id)
		if !cs.store(c) {
			t.Fatal("store refused the first accepted record of a peer")
		}
		cs.observeRTT(id, 20*time.Millisecond)
		if d, ok := cs.estimateRTT(id); ok && d < 0 {
			t.Fatalf("estimated a negative RTT %s", d)
		}
		again, err := SealCaps(key, c)
		if err != nil {
			return // re-encoding may grow past MaxCapsSize (JSON escapes)
		}
		c2, err := OpenCaps(again, fuzzNow)
		if err != nil {
			t.Fatalf("OpenCaps of the resealed record: %v", err)
		}
		if !reflect.DeepEqual(normCaps(*c), normCaps(*c2)) {
			t.Fatalf("reseal changed the record:\n%+v\n%+v", *c, *c2)
		}
	})
}

func checkCaps(t *testing.T, c *Capabilities, id peer.ID) {
	t.Helper()
	switch {
	case c.Version != 1:
		t.Fatalf("accepted version %d", c.Version)
	case c.PeerID != id.String():
		t.Fatalf("accepted a record of %s signed by %s", c.PeerID, id)
	case c.Slots < 0 || c.SlotsFree < 0 || c.SlotsFree > c.Slots:
		t.Fatalf("accepted slots %d free of %d", c.SlotsFree, c.Slots)
	case c.Throughput < 0 || c.BandwidthBps < 0 || c.PricePerHour < 0:
		t.Fatalf("accepted negative rates %+v", c)
	case len(c.Executors) > 16 || len(c.GPUs) > 64:
		t.Fatalf("accepted %d executors and %d GPUs", len(c.Executors), len(c.GPUs))
	case c.Coord != nil && !c.Coord.IsValid():
		t.Fatal("accepted an invalid coordinate")
	}
	if age := fuzzNow.Sub(time.UnixMilli(c.Time)); age > MaxCapsAge || age < -time.Minute {
		t.Fatalf("accepted a record aged %s", age)
	}
	if err := VerifyBinding(id, c.Account, c.AccountSig); err != nil {
		t.Fatalf("accepted a record whose binding fails: %v", err)
	}
}

// normCaps treats empty and absent lists alike (omitempty writes neither).
func normCaps(c Capabilities) Capabilities {
	if len(c.GPUs) == 0 {
		c.GPUs = nil
	}
	return c
}

// FuzzRecordPayload signs arbitrary DHT record payloads with the owner's
// key under a fuzzed record name and checks the /gsw validator: it never
// panics, accepts only a version-1 record naming the key it is stored
// under and of a sane age, agrees with Select, refuses the same value
// under another owner's key, and an accepted record sealed again opens to
// the same record.
func FuzzRecordPayload(f *testing.F) {
	key, id := fuzzKey(f, 1)
	_, other := fuzzKey(f, 2)
	for _, name := range []string{"caps", "a.b_c-1"} {
		k, err := RecordKey(id, name)
		if err != nil {
			f.Fatalf("RecordKey: %v", err)
		}
		b, _ := json.Marshal(Record{Version: 1, Key: k, Seq: 7, Time: fuzzNow.UnixMilli(), Data: []byte(`{"x":1}`)})
		if _, err := OpenRecord(k, sealPayload(f, key, recordDomain, recordCodec, b), fuzzNow); err != nil {
			f.Fatalf("the valid seed does not open: %v", err)
		}
		f.Add(name, b)
	}
	f.Add("caps", []byte(`{"v":1,"key":"/gsw//caps","seq":1,"time":0,"data":null}`))
	f.Add("", []byte(`{"v":2}`))

	f.Fuzz(func(t *testing.T, name string, payload []byte) {
		k, err := RecordKey(id, name)
		if err != nil {
			return
		}
		env := sealPayload(t, key, recordDomain, recordCodec, payload)
		v := RecordValidator{Now: func() time.Time { return fuzzNow }}
		r, err := OpenRecord(k, env, fuzzNow)
		if verr := v.Validate(k, env); (verr == nil) != (err == nil) {
			t.Fatalf("Validate says %v where OpenRecord says %v", verr, err)
		}
		if i, serr := v.Select(k, [][]byte{[]byte("junk"), env}); (serr == nil) != (err == nil) || (serr == nil && i != 1) {
			t.Fatalf("Select = %d, %v where OpenRecord says %v", i, serr, err)
		}
		otherKey, _ := RecordKey(other, name)
		if _, oerr := OpenRecord(otherKey, env, fuzzNow); oerr == nil {
			t.Fatal("accepted a record under another owner's key")
		}
		if err != nil {
			return
		}
		if r.Version != 1 || r.Key != k {
			t.Fatalf("accepted version %d naming %q under %q", r.Version, r.Key, k)
		}
		if age := fuzzNow.Sub(time.UnixMilli(r.Time)); age > MaxRecordAge || age < -5*time.Minute {
			t.Fatalf("accepted a record aged %s", age)
		}
		again, err := SealRecord(key, r)
		if err != nil {
			return // re-encoding may grow past MaxRecordSize
		}
		r2, err := OpenRecord(k, again, fuzzNow)
		if err != nil {
			t.Fatalf("OpenRecord of the resealed record: %v", err)
		}
		if r.Seq != r2.Seq || r.Time != r2.Time || !bytes.Equal(r.Data, r2.Data) {
			t.Fatalf("reseal changed the record:\n%+v\n%+v", r, r2)
		}
	})
}

// FuzzAnnouncementRoundTrip checks that what ParseAnnouncement accepts
// has version 1 and 1..MaxAnnounceText bytes of text, that the announce
// topic's validator agrees with it for messages within the topic's size,
// and that it survives encoding and parsing again unchanged.
func FuzzAnnouncementRoundTrip(f *testing.F) {
	f.Add([]byte(`{"v":1,"text":"maintenance at 18:00","time":1800000000000}`))
	f.Add([]byte(`{"v":1,"text":"\u00e9\ud800","time":-1}`))
	f.Add([]byte(`{"v":1,"text":""}`))
	spec := TopicSpec{Name: AnnounceTopic, MaxSize: MaxAnnounceText + 256, PerPeerPerSecond: 1e9, Check: func(_ peer.ID, b []byte) error {
		_, err := ParseAnnouncement(b)
		return err
	}}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAnnouncement(data)
		rl := newRateLimiter(spec.PerPeerPerSecond, func() time.Time { return fuzzNow })
		got := validateMessage(spec, rl, peer.ID("author"), peer.ID("relay"), data)
		if want := (err == nil && len(data) <= spec.MaxSize); (got == accept) != want {
			t.Fatalf("topic validator result %v for a message ParseAnnouncement says %v about", got, err)
		}
		if err != nil {
			return
		}
		if a.Version != 1 || a.Text == "" || len(a.Text) > MaxAnnounceText {
			t.Fatalf("accepted version %d with %d bytes of text", a.Version, len(a.Text))
		}
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		a2, err := ParseAnnouncement(b)
		if err != nil || a2 != a {
			t.Fatalf("round trip: %+v, %v; want %+v", a2, err, a)
		}
	})
}
