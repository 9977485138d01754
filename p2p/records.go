package p2p

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
)

// RecordNamespace is our DHT value namespace: keys are /gsw/<peer-id>/<name>.
const RecordNamespace = "gsw"

// MaxRecordSize caps a signed record as stored in the DHT.
const MaxRecordSize = 64 << 10

// MaxRecordAge is how old a record may be before validators drop it as stale.
const MaxRecordAge = 48 * time.Hour

// recordDomain and recordCodec tie our envelopes to this record type only.
const recordDomain = "gridswarm-record"

var recordCodec = []byte("/gridswarm/record/1")

var recordName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Record is a value a peer publishes under its own ID. Only that peer can
// sign it; Seq orders versions and Time lets validators drop stale ones.
type Record struct {
	Version int    `json:"v"`
	Key     string `json:"key"`
	Seq     uint64 `json:"seq"`
	Time    int64  `json:"time"` // unix milliseconds
	Data    []byte `json:"data"`
}

var _ record.Record = (*Record)(nil)

// Domain implements record.Record.
func (r *Record) Domain() string { return recordDomain }

// Codec implements record.Record.
func (r *Record) Codec() []byte { return recordCodec }

// MarshalRecord implements record.Record.
func (r *Record) MarshalRecord() ([]byte, error) { return json.Marshal(r) }

// UnmarshalRecord implements record.Record.
func (r *Record) UnmarshalRecord(b []byte) error {
	if len(b) > MaxRecordSize {
		return fmt.Errorf("record payload of %d bytes exceeds %d", len(b), MaxRecordSize)
	}
	return json.Unmarshal(b, r)
}

// RecordKey builds /gsw/<peer>/<name>.
func RecordKey(id peer.ID, name string) (string, error) {
	if !recordName.MatchString(name) {
		return "", fmt.Errorf("record name %q: use 1-64 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit", name)
	}
	return "/" + RecordNamespace + "/" + id.String() + "/" + name, nil
}

func parseRecordKey(key string) (peer.ID, string, error) {
	parts := strings.Split(key, "/")
	if len(parts) != 4 || parts[0] != "" || parts[1] != RecordNamespace {
		return "", "", fmt.Errorf("key %q is not /%s/<peer-id>/<name>", key, RecordNamespace)
	}
	id, err := peer.Decode(parts[2])
	if err != nil {
		return "", "", fmt.Errorf("key %q: bad peer ID: %w", key, err)
	}
	if !recordName.MatchString(parts[3]) {
		return "", "", fmt.Errorf("key %q: bad record name", key)
	}
	return id, parts[3], nil
}

// SealRecord signs a record with the publisher's key.
func SealRecord(key crypto.PrivKey, r *Record) ([]byte, error) {
	env, err := record.Seal(r, key)
	if err != nil {
		return nil, fmt.Errorf("cannot sign record %s: %w", r.Key, err)
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("cannot encode record %s: %w", r.Key, err)
	}
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("record %s is %d bytes signed, over the %d byte limit", r.Key, len(b), MaxRecordSize)
	}
	return b, nil
}

// OpenRecord checks a signed record against the key it is stored under and
// returns its content. now is injected so staleness is testable.
func OpenRecord(key string, value []byte, now time.Time) (*Record, error) {
	if len(value) > MaxRecordSize {
		return nil, fmt.Errorf("record of %d bytes exceeds the %d byte limit", len(value), MaxRecordSize)
	}
	owner, _, err := parseRecordKey(key)
	if err != nil {
		return nil, err
	}
	var r Record
	env, err := record.ConsumeTypedEnvelope(value, &r)
	if err != nil {
		return nil, fmt.Errorf("record under %s has no valid signature: %w", key, err)
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("record under %s: bad signer key: %w", key, err)
	}
	if signer != owner {
		return nil, fmt.Errorf("record under %s is signed by %s, not its owner", key, signer)
	}
	if r.Version != 1 {
		return nil, fmt.Errorf("record under %s has version %d; this daemon reads version 1", key, r.Version)
	}
	if r.Key != key {
		return nil, fmt.Errorf("record names key %q but is stored under %q (replayed?)", r.Key, key)
	}
	if age := now.Sub(time.UnixMilli(r.Time)); age > MaxRecordAge || age < -5*time.Minute {
		return nil, fmt.Errorf("record under %s is stale or from the future (age %s)", key, age.Round(time.Second))
	}
	return &r, nil
}

// RecordValidator is the DHT validator for the /gsw namespace.
type RecordValidator struct {
	Now func() time.Time // nil: time.Now
}

func (v RecordValidator) now() time.Time {
	if v.Now == nil {
		return time.Now()
	}
	return v.Now()
}

// Validate implements record.Validator.
func (v RecordValidator) Validate(key string, value []byte) error {
	_, err := OpenRecord(key, value, v.now())
	return err
}

// Select implements record.Validator: the highest sequence number wins.
func (v RecordValidator) Select(key string, values [][]byte) (int, error) {
	best, bestSeq := -1, uint64(0)
	for i, val := range values {
		r, err := OpenRecord(key, val, v.now())
		if err != nil {
			continue
		}
		if best < 0 || r.Seq > bestSeq {
			best, bestSeq = i, r.Seq
		}
	}
	if best < 0 {
		return 0, errors.New("no valid record among the candidates")
	}
	return best, nil
}

// PutRecord signs data as this node's record name and stores it in the DHT.
func (s *Swarm) PutRecord(ctx context.Context, name string, data []byte) (string, error) {
	key, err := RecordKey(s.host.ID(), name)
	if err != nil {
		return "", err
	}
	seq := s.nextSeq(&s.seq)
	r := &Record{Version: 1, Key: key, Seq: seq, Time: time.Now().UnixMilli(), Data: data}
	b, err := SealRecord(s.host.Peerstore().PrivKey(s.host.ID()), r)
	if err != nil {
		return "", err
	}
	if err := s.dht.PutValue(ctx, key, b); err != nil {
		return "", fmt.Errorf("cannot store %s in the DHT: %w", key, err)
	}
	return key, nil
}

// GetRecord fetches and checks a peer's record from the DHT.
func (s *Swarm) GetRecord(ctx context.Context, id peer.ID, name string) (*Record, error) {
	key, err := RecordKey(id, name)
	if err != nil {
		return nil, err
	}
	b, err := s.dht.GetValue(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("cannot get %s from the DHT: %w", key, err)
	}
	return OpenRecord(key, b, time.Now())
}

// nextSeq returns a sequence number above *last and stores it. It grows with
// time so a restarted node still supersedes what it published before.
func (s *Swarm) nextSeq(last *uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := uint64(time.Now().UnixMicro())
	if seq <= *last {
		seq = *last + 1
	}
	*last = seq
	return seq
}
