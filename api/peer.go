package api

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Peer is one row of peer_list.
type Peer struct {
	ID           string        `json:"id"`
	Addrs        []string      `json:"addrs"`
	Connected    bool          `json:"connected"`
	RTTMillis    float64       `json:"rtt_ms"` // 0: not measured yet
	Agent        string        `json:"agent,omitempty"`
	Gridswarm    bool          `json:"gridswarm"`
	LastAnnounce *Announcement `json:"last_announce,omitempty"`
	// Reputation is what this node's spot checks found of the peer; nil
	// when it never ran a tasklet for this node.
	Reputation *Reputation `json:"reputation,omitempty"`
}

// Announcement is the last notice a peer gossiped.
type Announcement struct {
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// ConnectResult is peer_connect's answer.
type ConnectResult struct {
	PeerID string `json:"peer_id"`
}

// FoundPeer is dht_findPeer's answer.
type FoundPeer struct {
	ID    string   `json:"id"`
	Addrs []string `json:"addrs"`
}

// PutResult is dht_putRecord's answer.
type PutResult struct {
	Key string `json:"key"`
}

// RecordResult is dht_getRecord's answer.
type RecordResult struct {
	Key  string    `json:"key"`
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Data HexBytes  `json:"data"`
}

// HexBytes is bytes written in JSON as a 0x-prefixed hex string, the
// Ethereum JSON-RPC convention (go-ethereum's hexutil.Bytes).
type HexBytes []byte

// MarshalText implements encoding.TextMarshaler.
func (b HexBytes) MarshalText() ([]byte, error) {
	out := make([]byte, 2+hex.EncodedLen(len(b)))
	copy(out, "0x")
	hex.Encode(out[2:], b)
	return out, nil
}

// UnmarshalText implements encoding.TextUnmarshaler; the 0x prefix is
// required and the digits must come in pairs.
func (b *HexBytes) UnmarshalText(text []byte) error {
	if len(text) < 2 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X') {
		return errors.New("hex bytes: want a 0x prefix")
	}
	out := make([]byte, hex.DecodedLen(len(text)-2))
	if _, err := hex.Decode(out, text[2:]); err != nil {
		return fmt.Errorf("hex bytes: %w", err)
	}
	*b = out
	return nil
}
