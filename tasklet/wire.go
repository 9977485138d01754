package tasklet

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"unicode/utf8"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/ipfs/go-cid"
)

// ProtocolID is the libp2p protocol of tasklet offers.
const ProtocolID = "/gridswarm/tasklet/1.0.0"

// WireVersion is the "v" of every message this package reads and writes.
const WireVersion = 1

// Size caps of one message's JSON body, checked against the length prefix
// before anything is allocated.
const (
	MaxOfferMsg = 256 << 10 // an offer carries the spec and its signed envelope
	MaxMsg      = 64 << 10  // every other message
)

// Limits on the free-text and map fields of a message.
const (
	MaxReasonLen  = 64
	MaxDetailLen  = 1024
	MaxMetrics    = 32
	MaxMetricName = 64
)

// Message types.
const (
	TypeOffer    = "offer"
	TypeAccept   = "accept"
	TypeDecline  = "decline"
	TypeProgress = "progress"
	TypeReceipt  = "receipt"
	TypeFailed   = "failed"
	TypeCancel   = "cancel"
	TypeRelease  = "release"  // release protocol: outputs the coordinator has fetched
	TypeReleased = "released" // release protocol: how many outputs the worker let go
)

// Progress phases.
const (
	PhaseFetching = "fetching" // bringing inputs local; Done/Total count inputs
	PhaseRunning  = "running"  // the executor runs; Done/Total as it reports
	PhaseDone     = "done"     // only in OfferOptions.Progress, with the receipt's metrics
)

// Errors from ReadMsg for bytes that are not a valid message. I/O errors
// (EOF, deadlines, resets) are returned as they are.
var (
	// ErrMalformed: the body is not a valid v1 message.
	ErrMalformed = errors.New("malformed tasklet message")
	// ErrTooLarge: the length prefix exceeds the cap; the body was not read.
	ErrTooLarge = errors.New("tasklet message over the size limit")
)

// Msg is one message of the tasklet protocol. Which fields are set depends
// on Type; ReadMsg checks them.
type Msg struct {
	V       int              `json:"v"`
	Type    string           `json:"type"`
	Offer   []byte           `json:"offer,omitempty"`   // offer: the signed envelope of an OfferRecord
	Reason  string           `json:"reason,omitempty"`  // decline, failed
	Detail  string           `json:"detail,omitempty"`  // decline, failed
	Phase   string           `json:"phase,omitempty"`   // progress
	Done    int              `json:"done,omitempty"`    // progress
	Total   int              `json:"total,omitempty"`   // progress
	Receipt *receipt.Receipt `json:"receipt,omitempty"` // receipt
	// Metrics are the executor's extra, unsigned figures (receipt only).
	Metrics map[string]float64 `json:"metrics,omitempty"`
	// Outputs are output CIDs (release only), 1 to MaxReleaseOutputs.
	Outputs []string `json:"outputs,omitempty"`
	// Prefetched (receipt only) are the offer's Prefetch CIDs the worker
	// holds whole when it sends the receipt; Prefetching the one it is
	// fetching then.
	Prefetched  []string `json:"prefetched,omitempty"`
	Prefetching []string `json:"prefetching,omitempty"`
}

var reasonPattern = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// ReadMsg reads one uvarint-length-prefixed JSON message of at most max
// bytes and checks it. An oversized prefix fails with ErrTooLarge before
// the body is read; a bad body with ErrMalformed.
func ReadMsg(r io.Reader, max int) (Msg, error) {
	n, err := readUvarint(r)
	if err != nil {
		return Msg{}, err
	}
	if n == 0 {
		return Msg{}, fmt.Errorf("%w: empty message", ErrMalformed)
	}
	if n > uint64(max) {
		return Msg{}, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, n, max)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return Msg{}, fmt.Errorf("cannot read %d byte message body: %w", n, err)
	}
	var m Msg
	if err := json.Unmarshal(body, &m); err != nil {
		return Msg{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := m.check(); err != nil {
		return Msg{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return m, nil
}

// readUvarint reads the length prefix one byte at a time so that nothing
// past it is consumed (r is usually a bufio.Reader anyway).
func readUvarint(r io.Reader) (uint64, error) {
	br, ok := r.(io.ByteReader)
	if !ok {
		br = oneByteReader{r}
	}
	var x uint64
	for i, shift := 0, uint(0); i < binary.MaxVarintLen64; i, shift = i+1, shift+7 {
		b, err := br.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				break
			}
			return x | uint64(b)<<shift, nil
		}
		x |= uint64(b&0x7f) << shift
	}
	return 0, fmt.Errorf("%w: length prefix overflows 64 bits", ErrMalformed)
}

type oneByteReader struct{ r io.Reader }

func (o oneByteReader) ReadByte() (byte, error) {
	var b [1]byte
	_, err := io.ReadFull(o.r, b[:])
	return b[0], err
}

// WriteMsg checks m, fills in its version and writes it framed, in one
// Write so that a message is never split across stream frames needlessly.
func WriteMsg(w io.Writer, m Msg) error {
	m.V = WireVersion
	if err := m.check(); err != nil {
		return fmt.Errorf("refusing to send invalid %s message: %w", m.Type, err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("cannot encode %s message: %w", m.Type, err)
	}
	if max := capFor(m.Type); len(body) > max {
		return fmt.Errorf("%s message is %d bytes, over the %d byte limit", m.Type, len(body), max)
	}
	buf := binary.AppendUvarint(make([]byte, 0, len(body)+binary.MaxVarintLen64), uint64(len(body)))
	buf = append(buf, body...)
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("cannot send %s message: %w", m.Type, err)
	}
	return nil
}

func capFor(typ string) int {
	if typ == TypeOffer {
		return MaxOfferMsg
	}
	return MaxMsg
}

// check enforces what each message type must carry.
func (m Msg) check() error {
	if m.V != WireVersion {
		return fmt.Errorf("version %d; this peer speaks version %d", m.V, WireVersion)
	}
	switch m.Type {
	case TypeOffer:
		if len(m.Offer) == 0 {
			return errors.New("offer without a signed envelope")
		}
	case TypeAccept, TypeCancel:
	case TypeRelease:
		return checkOutputs(m.Outputs)
	case TypeReleased:
		if m.Done < 0 || m.Done > MaxReleaseOutputs {
			return fmt.Errorf("released %d outputs: want 0 to %d", m.Done, MaxReleaseOutputs)
		}
	case TypeDecline, TypeFailed:
		return checkReason(m.Reason, m.Detail)
	case TypeProgress:
		return checkProgress(m.Phase, m.Done, m.Total)
	case TypeReceipt:
		if m.Receipt == nil {
			return errors.New("receipt message without a receipt")
		}
		if err := m.Receipt.CheckShape(); err != nil {
			return err
		}
		if err := checkCIDs("prefetched", m.Prefetched, MaxPrefetch); err != nil {
			return err
		}
		if err := checkCIDs("prefetching", m.Prefetching, MaxPrefetch); err != nil {
			return err
		}
		return checkMetrics(m.Metrics)
	default:
		return fmt.Errorf("unknown message type %q", m.Type)
	}
	return nil
}

func checkReason(reason, detail string) error {
	if len(reason) > MaxReasonLen || !reasonPattern.MatchString(reason) {
		return fmt.Errorf("reason %q: want 1-%d of a-z, 0-9, '-'", truncate(reason, MaxReasonLen), MaxReasonLen)
	}
	if len(detail) > MaxDetailLen || !utf8.ValidString(detail) {
		return fmt.Errorf("detail: want at most %d bytes of UTF-8", MaxDetailLen)
	}
	return nil
}

func checkOutputs(outs []string) error {
	if len(outs) == 0 || len(outs) > MaxReleaseOutputs {
		return fmt.Errorf("release of %d outputs: want 1 to %d", len(outs), MaxReleaseOutputs)
	}
	for i, o := range outs {
		if len(o) > receipt.MaxCIDLen {
			return fmt.Errorf("outputs[%d]: %d characters, limit %d", i, len(o), receipt.MaxCIDLen)
		}
		if _, err := cid.Decode(o); err != nil {
			return fmt.Errorf("outputs[%d]: %w", i, err)
		}
	}
	return nil
}

// checkCIDs checks a list of at most max CIDs named field.
func checkCIDs(field string, cids []string, max int) error {
	if len(cids) > max {
		return fmt.Errorf("%s: %d CIDs, limit %d", field, len(cids), max)
	}
	for i, c := range cids {
		if len(c) > receipt.MaxCIDLen {
			return fmt.Errorf("%s[%d]: %d characters, limit %d", field, i, len(c), receipt.MaxCIDLen)
		}
		if _, err := cid.Decode(c); err != nil {
			return fmt.Errorf("%s[%d]: %w", field, i, err)
		}
	}
	return nil
}

func checkProgress(phase string, done, total int) error {
	if phase != PhaseFetching && phase != PhaseRunning {
		return fmt.Errorf("progress phase %q: want %q or %q", truncate(phase, 32), PhaseFetching, PhaseRunning)
	}
	if done < 0 || total < 0 || (total > 0 && done > total) || (total == 0 && done != 0) {
		return fmt.Errorf("progress %d/%d: want 0 <= done <= total", done, total)
	}
	return nil
}

func checkMetrics(m map[string]float64) error {
	if len(m) > MaxMetrics {
		return fmt.Errorf("%d metrics, limit %d", len(m), MaxMetrics)
	}
	for k, v := range m {
		if k == "" || len(k) > MaxMetricName || !utf8.ValidString(k) {
			return fmt.Errorf("metric name %q: want 1-%d bytes of UTF-8", truncate(k, MaxMetricName), MaxMetricName)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("metric %q is not finite", k)
		}
	}
	return nil
}

// truncate shortens s for an error message.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
