package tasklet

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/record"
	ma "github.com/multiformats/go-multiaddr"
)

// Limits on an offer.
const (
	MaxHints           = 8
	MaxPrefetch        = 4         // inputs of later tasklets an offer may ask the worker to fetch ahead
	MaxHintAddrs       = 8         // addresses per hint; Offer keeps the first ones
	MaxOfferRecordSize = 160 << 10 // bytes of the signed JSON payload
	MaxOfferTTL        = 10 * time.Minute
	maxAddrLen         = 256
)

// offerDomain and offerCodec bind the signature to tasklet offers only.
const offerDomain = "gridswarm-tasklet-offer"

func offerCodec() []byte { return []byte("/gridswarm/tasklet-offer/1") }

// errPayload marks a payload that was signed but is not a valid offer, so
// it is reported as malformed rather than as a bad signature.
var errPayload = errors.New("bad offer payload")

// Nonce makes each offer unique so a worker can refuse replays. It is hex
// in JSON.
type Nonce [16]byte

// NewNonce draws a nonce from crypto/rand.
func NewNonce() (Nonce, error) {
	var n Nonce
	if _, err := rand.Read(n[:]); err != nil {
		return n, fmt.Errorf("cannot draw an offer nonce: %w", err)
	}
	return n, nil
}

// MarshalText implements encoding.TextMarshaler.
func (n Nonce) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(n[:])), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (n *Nonce) UnmarshalText(b []byte) error {
	if len(b) != 2*len(n) {
		return fmt.Errorf("nonce: %d hex characters, want %d", len(b), 2*len(n))
	}
	_, err := hex.Decode(n[:], b)
	if err != nil {
		return fmt.Errorf("nonce: %w", err)
	}
	return nil
}

// Hint names a peer likely to hold the tasklet's inputs.
type Hint struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs,omitempty"`
}

// OfferRecord is what the coordinator signs: the spec, its CID, where to
// find inputs, and a nonce and expiry against replays. Sealed in a libp2p
// envelope it is attributable evidence of what was offered.
type OfferRecord struct {
	Spec    Spec   `json:"spec"`
	SpecCID string `json:"specCid"`
	Hints   []Hint `json:"hints,omitempty"`
	Nonce   Nonce  `json:"nonce"`
	Expires int64  `json:"expires"` // unix ms; the worker must accept before then
	// Price is what the tasklet pays in base units of the settlement
	// token ("" unpaid); the worker signs it in its receipt.
	Price string `json:"price,omitempty"`
	// Prefetch names data the coordinator expects to send this worker
	// next (the next round's shard): the worker fetches it into its
	// cache while the tasklet runs and says in its receipt message which
	// it holds by then. Outside the spec, so a replica's spec is the same.
	Prefetch []string `json:"prefetch,omitempty"`
}

var _ record.Record = (*OfferRecord)(nil)

// Domain implements record.Record.
func (o *OfferRecord) Domain() string { return offerDomain }

// Codec implements record.Record.
func (o *OfferRecord) Codec() []byte { return offerCodec() }

// MarshalRecord implements record.Record.
func (o *OfferRecord) MarshalRecord() ([]byte, error) { return json.Marshal(o) }

// UnmarshalRecord implements record.Record.
func (o *OfferRecord) UnmarshalRecord(b []byte) error {
	if len(b) > MaxOfferRecordSize {
		return fmt.Errorf("%w: %d bytes, limit %d", errPayload, len(b), MaxOfferRecordSize)
	}
	if err := json.Unmarshal(b, o); err != nil {
		return fmt.Errorf("%w: %v", errPayload, err)
	}
	return nil
}

// NewOfferRecord builds an offer for spec that expires after ttl. Hints
// beyond MaxHintAddrs addresses per peer are trimmed; more than MaxHints
// peers is an error.
func NewOfferRecord(spec Spec, hints []peer.AddrInfo, now time.Time, ttl time.Duration) (OfferRecord, error) {
	if ttl <= 0 || ttl > MaxOfferTTL {
		return OfferRecord{}, fmt.Errorf("offer lifetime %s: want more than 0 and at most %s", ttl, MaxOfferTTL)
	}
	if err := spec.Validate(); err != nil {
		return OfferRecord{}, fmt.Errorf("cannot offer an invalid tasklet: %w", err)
	}
	c, err := spec.CID()
	if err != nil {
		return OfferRecord{}, err
	}
	if len(hints) > MaxHints {
		return OfferRecord{}, fmt.Errorf("%d provider hints; pass at most %d", len(hints), MaxHints)
	}
	nonce, err := NewNonce()
	if err != nil {
		return OfferRecord{}, err
	}
	o := OfferRecord{Spec: spec, SpecCID: c.String(), Nonce: nonce, Expires: now.Add(ttl).UnixMilli()}
	for _, h := range hints {
		hint := Hint{ID: h.ID.String()}
		for _, a := range h.Addrs[:min(len(h.Addrs), MaxHintAddrs)] {
			hint.Addrs = append(hint.Addrs, a.String())
		}
		o.Hints = append(o.Hints, hint)
	}
	return o, nil
}

// SealOffer signs o with the coordinator's libp2p key and returns the
// envelope's bytes.
func SealOffer(key crypto.PrivKey, o OfferRecord) ([]byte, error) {
	env, err := record.Seal(&o, key)
	if err != nil {
		return nil, fmt.Errorf("cannot sign tasklet offer %s: %w", o.SpecCID, err)
	}
	b, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("cannot encode tasklet offer %s: %w", o.SpecCID, err)
	}
	return b, nil
}

// OpenOffer checks a signed offer received from peer from at time now:
// the envelope's signature, that from signed it, that the spec is valid and
// matches SpecCID, the hints, and the expiry. It does not check replays
// (the Service does). Every error is a *DeclinedError.
func OpenOffer(envelope []byte, from peer.ID, now time.Time) (OfferRecord, error) {
	var o OfferRecord
	if len(envelope) > MaxOfferMsg {
		return o, declined(ReasonMalformed, "signed offer of %d bytes exceeds %d", len(envelope), MaxOfferMsg)
	}
	env, err := record.ConsumeTypedEnvelope(envelope, &o)
	switch {
	case errors.Is(err, errPayload):
		return OfferRecord{}, declined(ReasonMalformed, "%v", err)
	case err != nil:
		return OfferRecord{}, declined(ReasonBadSignature, "offer is not a validly signed envelope: %v", err)
	case !bytes.Equal(env.PayloadType, offerCodec()):
		return OfferRecord{}, declined(ReasonMalformed, "envelope holds %q, not a tasklet offer", truncate(string(env.PayloadType), 64))
	}
	signer, err := peer.IDFromPublicKey(env.PublicKey)
	if err != nil {
		return OfferRecord{}, declined(ReasonBadSignature, "unusable signing key: %v", err)
	}
	if signer != from {
		return OfferRecord{}, declined(ReasonBadSignature, "offer signed by %s, not by the peer that sent it (%s)", signer, from)
	}
	if err := o.check(now); err != nil {
		return OfferRecord{}, err
	}
	return o, nil
}

// check is OpenOffer's content check; its errors are *DeclinedError.
func (o OfferRecord) check(now time.Time) error {
	if err := o.Spec.Validate(); err != nil {
		return declined(ReasonMalformed, "%v", err)
	}
	c, err := o.Spec.CID()
	if err != nil {
		return declined(ReasonMalformed, "%v", err)
	}
	if o.SpecCID != c.String() {
		return declined(ReasonMalformed, "specCid %q does not match the spec's CID %s", truncate(o.SpecCID, 80), c)
	}
	if _, err := o.AddrInfos(); err != nil {
		return declined(ReasonMalformed, "%v", err)
	}
	if err := checkCIDs("offer.prefetch", o.Prefetch, MaxPrefetch); err != nil {
		return declined(ReasonMalformed, "%v", err)
	}
	nowMs := now.UnixMilli()
	switch {
	case o.Expires <= nowMs:
		return declined(ReasonExpired, "offer expired %s ago", time.Duration(nowMs-o.Expires)*time.Millisecond)
	case o.Expires > now.Add(MaxOfferTTL).UnixMilli():
		return declined(ReasonMalformed, "offer expires more than %s ahead", MaxOfferTTL)
	case o.Spec.Deadline <= nowMs:
		return declined(ReasonExpired, "tasklet deadline passed %s ago", time.Duration(nowMs-o.Spec.Deadline)*time.Millisecond)
	}
	return nil
}

// AddrInfos parses the hints.
func (o OfferRecord) AddrInfos() ([]peer.AddrInfo, error) {
	if len(o.Hints) > MaxHints {
		return nil, fmt.Errorf("offer.hints: %d, limit %d", len(o.Hints), MaxHints)
	}
	out := make([]peer.AddrInfo, 0, len(o.Hints))
	for i, h := range o.Hints {
		id, err := peer.Decode(h.ID)
		if err != nil {
			return nil, fmt.Errorf("offer.hints[%d].id: %w", i, err)
		}
		if len(h.Addrs) > MaxHintAddrs {
			return nil, fmt.Errorf("offer.hints[%d].addrs: %d, limit %d", i, len(h.Addrs), MaxHintAddrs)
		}
		info := peer.AddrInfo{ID: id}
		for j, s := range h.Addrs {
			if len(s) > maxAddrLen {
				return nil, fmt.Errorf("offer.hints[%d].addrs[%d]: %d characters, limit %d", i, j, len(s), maxAddrLen)
			}
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				return nil, fmt.Errorf("offer.hints[%d].addrs[%d]: %w", i, j, err)
			}
			info.Addrs = append(info.Addrs, a)
		}
		out = append(out, info)
	}
	return out, nil
}
