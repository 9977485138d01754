package p2p

import (
	"crypto/rand"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func newKey(t testing.TB) (crypto.PrivKey, peer.ID) {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return k, id
}

func TestRecordValidation(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	owner, ownerID := newKey(t)
	other, _ := newKey(t)
	key, err := RecordKey(ownerID, "caps")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, _ := RecordKey(ownerID, "other")
	seal := func(k crypto.PrivKey, r Record) []byte {
		b, err := SealRecord(k, &r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := Record{Version: 1, Key: key, Seq: 1, Time: now.UnixMilli(), Data: []byte("gpu")}
	tests := []struct {
		name    string
		key     string
		value   []byte
		wantErr string
	}{
		{"good", key, seal(owner, good), ""},
		{"signed by another peer", key, seal(other, good), "not its owner"},
		{"unsigned garbage", key, []byte(`{"v":1}`), "no valid signature"},
		{"replayed under another key", otherKey, seal(owner, good), "replayed"},
		{"stale", key, seal(owner, Record{Version: 1, Key: key, Seq: 1, Time: now.Add(-MaxRecordAge - time.Hour).UnixMilli()}), "stale"},
		{"from the future", key, seal(owner, Record{Version: 1, Key: key, Seq: 1, Time: now.Add(time.Hour).UnixMilli()}), "future"},
		{"unknown version", key, seal(owner, Record{Version: 2, Key: key, Seq: 1, Time: now.UnixMilli()}), "version 2"},
		{"oversized", key, make([]byte, MaxRecordSize+1), "exceeds"},
		{"foreign namespace", "/pk/" + ownerID.String(), seal(owner, good), "is not /gsw/"},
		{"bad peer in key", "/gsw/notapeer/caps", seal(owner, good), "bad peer ID"},
	}
	v := RecordValidator{Now: func() time.Time { return now }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Validate(tt.key, tt.value)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate = %v, want ok", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestRecordSelectPicksHighestSeq(t *testing.T) {
	now := time.Now()
	owner, id := newKey(t)
	key, _ := RecordKey(id, "caps")
	var vals [][]byte
	for _, seq := range []uint64{3, 7, 5} {
		b, err := SealRecord(owner, &Record{Version: 1, Key: key, Seq: seq, Time: now.UnixMilli()})
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, b)
	}
	vals = append(vals, []byte("junk"))
	got, err := RecordValidator{}.Select(key, vals)
	if err != nil || got != 1 {
		t.Errorf("Select = %d, %v; want 1 (seq 7)", got, err)
	}
}

func TestRecordKeyNames(t *testing.T) {
	_, id := newKey(t)
	for _, name := range []string{"", "Caps", "a/b", strings.Repeat("a", 65), "-x"} {
		if _, err := RecordKey(id, name); err == nil {
			t.Errorf("RecordKey(%q) accepted a bad name", name)
		}
	}
}

func TestAnnouncementParsing(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`{"v":1,"text":"hi","time":1}`, true},
		{`{"v":2,"text":"hi"}`, false},
		{`{"v":1,"text":""}`, false},
		{`not json`, false},
		{`{"v":1,"text":"` + strings.Repeat("x", MaxAnnounceText+1) + `"}`, false},
	}
	for _, tt := range tests {
		_, err := ParseAnnouncement([]byte(tt.in))
		if (err == nil) != tt.ok {
			t.Errorf("ParseAnnouncement(%.40q) err = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
}

func TestRateLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	rl := newRateLimiter(2, func() time.Time { return now })
	p := peer.ID("a")
	allowed := 0
	for range 10 {
		if rl.allow(p) {
			allowed++
		}
	}
	if allowed != 4 {
		t.Errorf("burst allowed %d messages, want 4 (2/s with a burst of 2 s)", allowed)
	}
	now = now.Add(time.Second)
	if !rl.allow(p) || !rl.allow(p) || rl.allow(p) {
		t.Error("after 1 s the bucket should have refilled exactly 2 tokens")
	}
	if !rl.allow(peer.ID("b")) {
		t.Error("a different peer has its own bucket")
	}
}

func FuzzOpenRecord(f *testing.F) {
	k, _, _ := crypto.GenerateEd25519Key(rand.Reader)
	id, _ := peer.IDFromPrivateKey(k)
	key, _ := RecordKey(id, "caps")
	b, _ := SealRecord(k, &Record{Version: 1, Key: key, Seq: 1, Time: time.Now().UnixMilli(), Data: []byte("x")})
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := OpenRecord(key, data, time.Now())
		if err == nil && r.Key != key {
			t.Fatalf("accepted a record for %q under %q", r.Key, key)
		}
	})
}

func FuzzParseAnnouncement(f *testing.F) {
	f.Add([]byte(`{"v":1,"text":"hi","time":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseAnnouncement(data)
		if err == nil && (a.Text == "" || len(a.Text) > MaxAnnounceText) {
			t.Fatalf("accepted an announcement with text of %d bytes", len(a.Text))
		}
	})
}

func TestTopicValidator(t *testing.T) {
	checks := 0
	spec := TopicSpec{Name: "t", MaxSize: 64, PerPeerPerSecond: 1, Check: func(_ peer.ID, b []byte) error {
		checks++
		_, err := ParseAnnouncement(b)
		return err
	}}
	now := time.Unix(0, 0)
	rl := newRateLimiter(spec.PerPeerPerSecond, func() time.Time { return now })
	good := []byte(`{"v":1,"text":"hi","time":1}`)
	tests := []struct {
		name      string
		data      []byte
		want      pubsubResult
		wantCheck bool
	}{
		{"good", good, accept, true},
		{"oversized, refused before the rate and the check", make([]byte, 65), reject, false},
		{"malformed, counted toward the rate", []byte("{"), reject, true},
		{"over the rate, refused before the check", good, ignore, false},
	}
	for _, tt := range tests {
		before := checks
		if got := pubsubResult(validateMessage(spec, rl, peer.ID("p"), peer.ID("p"), tt.data)); got != tt.want {
			t.Errorf("%s: result %v, want %v", tt.name, got, tt.want)
		}
		if ran := checks > before; ran != tt.wantCheck {
			t.Errorf("%s: Check ran = %v, want %v", tt.name, ran, tt.wantCheck)
		}
	}
	now = now.Add(time.Second)
	if got := pubsubResult(validateMessage(spec, rl, peer.ID("p"), peer.ID("p"), good)); got != accept {
		t.Errorf("a second later: result %v, want accept", got)
	}
}

// TestTopicRateIsPerAuthor floods a topic with one author's messages
// through several relays: the flood is cut at the burst whichever relay
// forwards it, while another author's messages, through the same relays,
// all pass.
func TestTopicRateIsPerAuthor(t *testing.T) {
	spec := TopicSpec{Name: "t", MaxSize: 64, PerPeerPerSecond: 1, Burst: 3}
	now := time.Unix(0, 0)
	rl := newBurstLimiter(spec.PerPeerPerSecond, spec.Burst, func() time.Time { return now })
	relays := []peer.ID{"r1", "r2", "r3"}
	count := func(author peer.ID, n int) (accepted int) {
		for i := range n {
			if validateMessage(spec, rl, author, relays[i%len(relays)], []byte("x")) == accept {
				accepted++
			}
		}
		return accepted
	}
	if got := count("flooder", 100); got != 3 {
		t.Errorf("flooder: %d of 100 accepted, want the burst of 3", got)
	}
	if got := count("honest", 3); got != 3 {
		t.Errorf("honest author during the flood: %d of 3 accepted, want 3", got)
	}
	rl.exempt = "self"
	if got := count("self", 20); got != 20 {
		t.Errorf("own messages: %d of 20 accepted, want all", got)
	}
}

func TestRateLimiterForgetsQuietPeers(t *testing.T) {
	now := time.Unix(0, 0)
	rl := newRateLimiter(1, func() time.Time { return now })
	for i := range maxRateBuckets - 1 {
		rl.allow(peer.ID(fmt.Sprint("quiet", i)))
	}
	now = now.Add(time.Second)
	rl.allow("busy")
	rl.allow("busy") // busy has spent its burst; the map is full
	now = now.Add(time.Second / 2)
	rl.allow("newcomer") // the quiet peers have refilled and go
	if got := len(rl.b); got != 2 {
		t.Fatalf("%d buckets after the map filled up, want 2 (busy, newcomer)", got)
	}
	if rl.allow("busy") {
		t.Error("busy peer's spent bucket was forgotten")
	}
}
