package tasklet

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/test"
)

func signedReceipt(t testing.TB) receipt.Receipt {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatalf("GenerateKey: %v", err)
	}
	w, c := peerID(t), peerID(t)
	r := receipt.Receipt{
		TaskletCID: rawCID(t, "spec"), OutputCID: rawCID(t, "out"),
		WorkerPeer: w.String(), Coordinator: c.String(), JobID: "job",
		Round: 1, Samples: 10, StartedAt: 1, FinishedAt: 2, ComputeMillis: 1,
	}
	r, err = receipt.Sign(key, receipt.Domain{ChainID: 1}, r)
	if err != nil {
		t.Fatalf("receipt.Sign: %v", err)
	}
	return r
}

// signedReceiptJSON is a valid receipt as the wire carries it.
func signedReceiptJSON(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(signedReceipt(t))
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return string(b)
}

func peerID(t testing.TB) peer.ID {
	t.Helper()
	_, pub, err := test.RandTestKeyPair(2 /* Ed25519 */, 0)
	if err != nil {
		t.Fatalf("RandTestKeyPair: %v", err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		t.Fatalf("IDFromPublicKey: %v", err)
	}
	return id
}

func frame(body string) []byte {
	return append(binary.AppendUvarint(nil, uint64(len(body))), body...)
}

func TestWriteReadRoundTrip(t *testing.T) {
	r := signedReceipt(t)
	msgs := []Msg{
		{Type: TypeOffer, Offer: []byte{1, 2, 3}},
		{Type: TypeAccept},
		{Type: TypeDecline, Reason: ReasonBusy, Detail: "2 of 2 slots in use"},
		{Type: TypeProgress, Phase: PhaseFetching, Done: 1, Total: 3},
		{Type: TypeProgress, Phase: PhaseRunning},
		{Type: TypeReceipt, Receipt: &r, Metrics: map[string]float64{"acc": 0.91}},
		{Type: TypeReceipt, Receipt: &r, Prefetched: []string{rawCID(t, "next shard")}, Prefetching: []string{rawCID(t, "the one after")}},
		{Type: TypeFailed, Reason: FailExecutor, Detail: "out of memory"},
		{Type: TypeCancel},
	}
	var buf bytes.Buffer
	for _, m := range msgs {
		if err := WriteMsg(&buf, m); err != nil {
			t.Fatalf("WriteMsg(%s): %v", m.Type, err)
		}
	}
	for _, want := range msgs {
		want.V = WireVersion
		got, err := ReadMsg(&buf, MaxOfferMsg)
		if err != nil {
			t.Fatalf("ReadMsg(%s): %v", want.Type, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ReadMsg = %+v, want %+v", got, want)
		}
	}
	if _, err := ReadMsg(&buf, MaxMsg); !errors.Is(err, io.EOF) {
		t.Errorf("ReadMsg at the end: err = %v, want io.EOF", err)
	}
}

func TestReadMsgRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty body", frame(""), MaxMsg, ErrMalformed},
		{"not json", frame("hello"), MaxMsg, ErrMalformed},
		{"no version", frame(`{"type":"accept"}`), MaxMsg, ErrMalformed},
		{"version 2", frame(`{"v":2,"type":"accept"}`), MaxMsg, ErrMalformed},
		{"unknown type", frame(`{"v":1,"type":"gossip"}`), MaxMsg, ErrMalformed},
		{"offer without envelope", frame(`{"v":1,"type":"offer"}`), MaxMsg, ErrMalformed},
		{"decline without reason", frame(`{"v":1,"type":"decline"}`), MaxMsg, ErrMalformed},
		{"reason with spaces", frame(`{"v":1,"type":"failed","reason":"no way"}`), MaxMsg, ErrMalformed},
		{"progress done > total", frame(`{"v":1,"type":"progress","phase":"running","done":3,"total":2}`), MaxMsg, ErrMalformed},
		{"progress negative", frame(`{"v":1,"type":"progress","phase":"running","done":-1}`), MaxMsg, ErrMalformed},
		{"progress bad phase", frame(`{"v":1,"type":"progress","phase":"napping"}`), MaxMsg, ErrMalformed},
		{"receipt missing", frame(`{"v":1,"type":"receipt"}`), MaxMsg, ErrMalformed},
		{"receipt unsigned", frame(`{"v":1,"type":"receipt","receipt":{"jobId":"x"}}`), MaxMsg, ErrMalformed},
		{"prefetching not a CID", frame(`{"v":1,"type":"receipt","receipt":` + signedReceiptJSON(t) + `,"prefetching":["shard"]}`), MaxMsg, ErrMalformed},
		{"prefetched not a CID", frame(`{"v":1,"type":"receipt","receipt":` + signedReceiptJSON(t) + `,"prefetched":["shard"]}`), MaxMsg, ErrMalformed},
		{"too much prefetched", frame(`{"v":1,"type":"receipt","receipt":` + signedReceiptJSON(t) + `,"prefetched":["` +
			strings.Repeat(rawCID(t, "s")+`","`, MaxPrefetch) + rawCID(t, "s") + `"]}`), MaxMsg, ErrMalformed},
		{"over cap", frame(`{"v":1,"type":"accept"}`), 10, ErrTooLarge},
		{"varint overflow", bytes.Repeat([]byte{0xff}, 11), MaxMsg, ErrMalformed},
		{"truncated prefix", []byte{0x80}, MaxMsg, io.ErrUnexpectedEOF},
		{"truncated body", frame(`{"v":1,"type":"accept"}`)[:10], MaxMsg, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadMsg(bytes.NewReader(tt.in), tt.max)
			if !errors.Is(err, tt.want) {
				t.Errorf("ReadMsg: err = %v, want %v", err, tt.want)
			}
		})
	}
}

// guardReader serves prefix and fails the test if anything past it is read.
type guardReader struct {
	t      *testing.T
	prefix []byte
}

func (g *guardReader) Read(p []byte) (int, error) {
	if len(g.prefix) == 0 {
		g.t.Errorf("ReadMsg read past the length prefix of an oversized message")
		return 0, io.EOF
	}
	n := copy(p, g.prefix)
	g.prefix = g.prefix[n:]
	return n, nil
}

func TestReadMsgOversizedStopsAtPrefix(t *testing.T) {
	for _, announced := range []uint64{MaxOfferMsg + 1, 1 << 40} {
		g := &guardReader{t: t, prefix: binary.AppendUvarint(nil, announced)}
		_, err := ReadMsg(g, MaxOfferMsg)
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("ReadMsg with %d announced: err = %v, want ErrTooLarge", announced, err)
		}
	}
}

func TestWriteMsgRefusesInvalid(t *testing.T) {
	tests := []struct {
		name string
		m    Msg
		want string
	}{
		{"bad progress", Msg{Type: TypeProgress, Phase: PhaseRunning, Done: 5, Total: 1}, "progress"},
		{"unknown type", Msg{Type: "hello"}, "unknown"},
		{"long detail", Msg{Type: TypeFailed, Reason: FailExecutor, Detail: strings.Repeat("x", MaxDetailLen+1)}, "detail"},
		{"offer over cap", Msg{Type: TypeOffer, Offer: make([]byte, MaxOfferMsg)}, "limit"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		err := WriteMsg(&buf, tt.m)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("WriteMsg(%s): err = %v, want one mentioning %q", tt.name, err, tt.want)
		}
		if buf.Len() != 0 {
			t.Errorf("WriteMsg(%s) wrote %d bytes despite failing", tt.name, buf.Len())
		}
	}
}

func FuzzReadMsg(f *testing.F) {
	r := signedReceipt(f)
	for _, m := range []Msg{
		{Type: TypeOffer, Offer: []byte("envelope")},
		{Type: TypeProgress, Phase: PhaseRunning, Done: 1, Total: 2},
		{Type: TypeReceipt, Receipt: &r},
		{Type: TypeDecline, Reason: ReasonBusy},
	} {
		var buf bytes.Buffer
		if err := WriteMsg(&buf, m); err != nil {
			f.Fatalf("WriteMsg: %v", err)
		}
		f.Add(buf.Bytes())
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := ReadMsg(bytes.NewReader(in), MaxMsg)
		if err != nil {
			return
		}
		// What ReadMsg accepts WriteMsg can send, and the encoding is a
		// fixed point from then on.
		var first, second bytes.Buffer
		if err := WriteMsg(&first, m); err != nil {
			t.Fatalf("WriteMsg of an accepted message: %v", err)
		}
		again, err := ReadMsg(bytes.NewReader(first.Bytes()), MaxMsg)
		if err != nil {
			t.Fatalf("ReadMsg of a rewritten message: %v", err)
		}
		if err := WriteMsg(&second, again); err != nil {
			t.Fatalf("WriteMsg of the re-read message: %v", err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("encoding is not stable:\n%q\n%q", first.Bytes(), second.Bytes())
		}
	})
}
