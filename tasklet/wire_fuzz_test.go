package tasklet

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"
)

// countingReader counts the bytes ReadMsg takes from its input, so the
// fuzz target can check that it never reads past one message.
type countingReader struct {
	r *bytes.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// FuzzReadMsgCaps feeds arbitrary bytes to ReadMsg under both caps the
// protocol uses (MaxOfferMsg for a worker's first message, MaxMsg for the
// rest) and checks what a peer cannot be allowed to break:
//   - no panic, and every error is ErrMalformed, ErrTooLarge or an I/O error;
//   - ReadMsg takes no more than the length prefix and one capped body, and
//     nothing at all past the prefix when it says ErrTooLarge;
//   - an accepted message is valid (check passes), and whatever fits its own
//     type's cap is written back by WriteMsg and read again with the same
//     meaning, byte for byte the same the second time.
func FuzzReadMsgCaps(f *testing.F) {
	key, _ := fuzzKey(f)
	now := fuzzNow()
	env := seal(f, key, testOffer(f, now))
	r := signedReceipt(f)
	for _, m := range []Msg{
		{Type: TypeOffer, Offer: env},
		{Type: TypeAccept},
		{Type: TypeCancel},
		{Type: TypeDecline, Reason: ReasonOverQuota, Detail: "needs 3 MiB, 1 MiB free"},
		{Type: TypeFailed, Reason: FailExecutor, Detail: "model: shape mismatch"},
		{Type: TypeProgress, Phase: PhaseFetching, Done: 0, Total: 2},
		{Type: TypeProgress, Phase: PhaseRunning, Done: 5, Total: 5},
		{Type: TypeReceipt, Receipt: &r, Metrics: map[string]float64{"accuracy": 0.93, "loss": 0.2}},
	} {
		var buf bytes.Buffer
		if err := WriteMsg(&buf, m); err != nil {
			f.Fatalf("WriteMsg(%s): %v", m.Type, err)
		}
		f.Add(buf.Bytes(), m.Type == TypeOffer)
		f.Add(buf.Bytes(), m.Type != TypeOffer)
	}
	for _, body := range []string{
		`{"v":2,"type":"accept"}`,
		`{"v":1,"type":"progress","phase":"running","done":3,"total":2}`,
		`{"v":1,"type":"receipt","receipt":null}`,
		`{"v":1,"type":"accept","metrics":{},"offer":""}`,
		`{"v":1,"type":"decline","reason":"Busy"}`,
	} {
		f.Add(frame(body), false)
	}
	f.Add(binary.AppendUvarint(nil, MaxMsg+1), false)
	f.Add(binary.AppendUvarint(nil, MaxOfferMsg+1), true)
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02}, true)

	f.Fuzz(func(t *testing.T, in []byte, offerCap bool) {
		limit := MaxMsg
		if offerCap {
			limit = MaxOfferMsg
		}
		cr := &countingReader{r: bytes.NewReader(in)}
		m, err := ReadMsg(cr, limit)
		if cr.n > binary.MaxVarintLen64+limit {
			t.Fatalf("ReadMsg took %d bytes under a %d byte cap", cr.n, limit)
		}
		if err != nil {
			switch {
			case errors.Is(err, ErrTooLarge):
				if cr.n > binary.MaxVarintLen64 {
					t.Fatalf("ReadMsg read %d bytes before refusing an oversized message", cr.n)
				}
			case errors.Is(err, ErrMalformed), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			default:
				t.Fatalf("ReadMsg: unexpected kind of error %v", err)
			}
			return
		}
		if err := m.check(); err != nil {
			t.Fatalf("ReadMsg accepted a message check refuses: %v", err)
		}
		body, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("json.Marshal of an accepted message: %v", err)
		}
		if len(body) > capFor(m.Type) || len(body) > limit {
			return // re-encoding may grow (escapes); the sender would refuse it
		}
		var first bytes.Buffer
		if err := WriteMsg(&first, m); err != nil {
			t.Fatalf("WriteMsg of an accepted %s message: %v", m.Type, err)
		}
		again, err := ReadMsg(bytes.NewReader(first.Bytes()), limit)
		if err != nil {
			t.Fatalf("ReadMsg of the rewritten message: %v\n%s", err, first.Bytes())
		}
		if !sameMeaning(m, again) {
			t.Fatalf("round trip changed the message:\n%+v\n%+v", m, again)
		}
		var second bytes.Buffer
		if err := WriteMsg(&second, again); err != nil || !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatalf("encoding is not a fixed point (%v):\n%q\n%q", err, first.Bytes(), second.Bytes())
		}
	})
}

// sameMeaning compares two messages field by field, treating an empty
// slice or map as absent (omitempty writes neither).
func sameMeaning(a, b Msg) bool {
	if a.V != b.V || a.Type != b.Type || a.Reason != b.Reason || a.Detail != b.Detail ||
		a.Phase != b.Phase || a.Done != b.Done || a.Total != b.Total || !bytes.Equal(a.Offer, b.Offer) {
		return false
	}
	if len(a.Metrics) != len(b.Metrics) {
		return false
	}
	for k, v := range a.Metrics {
		if w, ok := b.Metrics[k]; !ok || w != v {
			return false
		}
	}
	if (a.Receipt == nil) != (b.Receipt == nil) {
		return false
	}
	if a.Receipt == nil {
		return true
	}
	ja, errA := json.Marshal(a.Receipt)
	jb, errB := json.Marshal(b.Receipt)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// fuzzNow is the fixed clock of the fuzz targets, so that a crasher saved
// under testdata/fuzz reproduces on any day.
func fuzzNow() time.Time { return time.UnixMilli(1767225600000) } // 2026-01-01
