package scheduler

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/maphash"
	"math"
	"os"
	"reflect"
	"time"
)

// The journal is a text file of lines
//
//	<crc32c of the JSON, 8 hex digits> <entry as JSON>\n
//
// one per Save, each an entry: the save's sequence number, the parts of the
// job that changed (header, spec, dataset, changed rounds whole) and the
// number of rounds. A line is written with one write and fsynced; a crash
// can only tear the last one.

// entry is one Save's changes.
type entry struct {
	Seq     uint64          `json:"seq"`
	Head    json.RawMessage `json:"head,omitempty"`    // the Job without spec, dataset and rounds
	Spec    json.RawMessage `json:"spec,omitempty"`    // absent: unchanged
	Dataset json.RawMessage `json:"dataset,omitempty"` // absent: unchanged
	N       int             `json:"n"`                 // len(Rounds) after this save
	Rounds  []roundRecord   `json:"rounds,omitempty"`  // rounds that changed
}

type roundRecord struct {
	I int             `json:"i"`
	R json.RawMessage `json:"r"`
}

// baseFile is the base snapshot: the Job as older daemons wrote it, plus
// the sequence number of the Save it holds (0 in old files).
type baseFile struct {
	*Job
	StoreSeq uint64 `json:"store_seq,omitempty"`
}

// written is what the store last wrote of one job: enough to tell what
// changed without keeping the bytes.
type written struct {
	seq                     uint64
	baseBytes, journalBytes int64
	head, spec, dataset     [32]byte
	rounds                  []roundMark
	cursor                  int // the next older finished round to check
}

// roundMark remembers a written round. A finished round rarely changes, so
// it is re-encoded only when its fingerprint (a cheap hash of every field
// but the receipts) moves.
type roundMark struct {
	sum      [32]byte
	finished bool
	fp       uint64
}

var fpSeed = maphash.MakeSeed()

// headOf encodes j without its spec, dataset and rounds.
func headOf(j *Job) ([]byte, error) {
	h := *j
	h.Spec, h.Dataset, h.Rounds = nil, DatasetInfo{}, nil
	return json.Marshal(&h)
}

func encodeBase(j *Job, seq uint64) ([]byte, *written, error) {
	b, err := json.Marshal(baseFile{Job: j, StoreSeq: seq})
	if err != nil {
		return nil, nil, err
	}
	w := &written{rounds: make([]roundMark, 0, len(j.Rounds))}
	// Fill in the marks as if every part had just been journalled.
	if _, err := w.diff(j); err != nil {
		return nil, nil, err
	}
	w.seq, w.baseBytes, w.cursor = seq, int64(len(b)), 0
	return b, w, nil
}

// How much of a job's past a Save looks at. Rounds that are not finished
// are encoded on every Save. A finished round rarely changes (a late
// attempt ending, say): the last recentRounds of them are fingerprinted on
// every Save and rotateRounds older ones in turn, so a change to an old
// round is journalled within len(rounds)/rotateRounds saves, and at the
// latest by the next compaction, which writes the job whole. What a Save
// costs stays constant however many rounds the job has.
const (
	recentRounds = 2
	rotateRounds = 4
)

// diff returns the entry that takes what w says is on disk to j, and
// updates w as if the entry had been written. The caller must drop w if
// the entry is not written.
func (w *written) diff(j *Job) (entry, error) {
	w.seq++
	e := entry{Seq: w.seq, N: len(j.Rounds)}
	head, err := headOf(j)
	if err != nil {
		return e, err
	}
	if sum := sha256.Sum256(head); sum != w.head {
		e.Head, w.head = head, sum
	}
	spec := []byte(j.Spec)
	if len(spec) == 0 {
		spec = []byte("null")
	}
	if sum := sha256.Sum256(spec); sum != w.spec {
		e.Spec, w.spec = spec, sum
	}
	ds, err := json.Marshal(&j.Dataset)
	if err != nil {
		return e, err
	}
	if sum := sha256.Sum256(ds); sum != w.dataset {
		e.Dataset, w.dataset = ds, sum
	}
	if len(w.rounds) > len(j.Rounds) {
		w.rounds = w.rounds[:len(j.Rounds)]
	}
	// Finished rounds below recent are looked at only in turn.
	recent := len(j.Rounds) - recentRounds
	lo, hi := w.cursor, w.cursor+rotateRounds
	if hi > recent {
		w.cursor = 0
	} else {
		w.cursor = hi
	}
	for i := range j.Rounds {
		rd := &j.Rounds[i]
		fin := rd.Finished != nil
		known := i < len(w.rounds)
		if known && fin && w.rounds[i].finished && i < recent && (i < lo || i >= hi) {
			continue
		}
		var fp uint64
		if fin {
			fp = fingerprint(rd)
			if known && w.rounds[i].finished && w.rounds[i].fp == fp {
				continue
			}
		}
		b, err := json.Marshal(rd)
		if err != nil {
			return e, err
		}
		mark := roundMark{sum: sha256.Sum256(b), finished: fin, fp: fp}
		if !known {
			w.rounds = append(w.rounds, mark)
		} else {
			old := w.rounds[i].sum
			w.rounds[i] = mark
			if old == mark.sum {
				continue
			}
		}
		e.Rounds = append(e.Rounds, roundRecord{I: i, R: b})
	}
	return e, nil
}

// fingerprint hashes every field of a round, walking it by reflection so
// that fields added later are covered too. It costs far less than JSON
// encoding: no allocation, no escaping.
func fingerprint(rd *Round) uint64 {
	var h maphash.Hash
	h.SetSeed(fpSeed)
	hashValue(&h, reflect.ValueOf(rd).Elem())
	return h.Sum64()
}

var timeType = reflect.TypeOf(time.Time{})

func hashValue(h *maphash.Hash, v reflect.Value) {
	var buf [8]byte
	u := func(x uint64) {
		binary.LittleEndian.PutUint64(buf[:], x)
		h.Write(buf[:])
	}
	switch v.Kind() {
	case reflect.String:
		u(uint64(v.Len()))
		h.WriteString(v.String())
	case reflect.Bool:
		if v.Bool() {
			u(1)
		} else {
			u(0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		u(uint64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u(v.Uint())
	case reflect.Float32, reflect.Float64:
		u(math.Float64bits(v.Float()))
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			u(0)
			return
		}
		u(1)
		hashValue(h, v.Elem())
	case reflect.Slice, reflect.Array:
		u(uint64(v.Len()))
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Kind() == reflect.Slice {
			h.Write(v.Bytes())
			return
		}
		for i := 0; i < v.Len(); i++ {
			hashValue(h, v.Index(i))
		}
	case reflect.Map:
		// Order-independent: the sum of each entry's own hash.
		u(uint64(v.Len()))
		var sum uint64
		it := v.MapRange()
		for it.Next() {
			var e maphash.Hash
			e.SetSeed(fpSeed)
			hashValue(&e, it.Key())
			hashValue(&e, it.Value())
			sum += e.Sum64()
		}
		u(sum)
	case reflect.Struct:
		if v.Type() == timeType {
			t := v.Interface().(time.Time)
			u(uint64(t.UnixNano()))
			_, off := t.Zone()
			u(uint64(off))
			return
		}
		for i := 0; i < v.NumField(); i++ {
			hashValue(h, v.Field(i))
		}
	default:
		// Channels and functions never appear in a job; hash the kind so
		// the walk stays total.
		u(uint64(v.Kind()))
	}
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encodeLine(e entry) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, len(b)+10)
	line = fmt.Appendf(line, "%08x ", crc32.Checksum(b, castagnoli))
	line = append(line, b...)
	return append(line, '\n'), nil
}

// decodeLine returns a journal line's entry; ok is false when the line
// is damaged.
func decodeLine(line []byte) (entry, bool) {
	var e entry
	if len(line) < 10 || line[8] != ' ' {
		return e, false
	}
	var sum [4]byte
	if _, err := hex.Decode(sum[:], line[:8]); err != nil {
		return e, false
	}
	body := line[9:]
	if binary.BigEndian.Uint32(sum[:]) != crc32.Checksum(body, castagnoli) {
		return e, false
	}
	if err := json.Unmarshal(body, &e); err != nil {
		return e, false
	}
	return e, true
}

// journalError reports a journal damaged before its last line: the job
// read up to the damage is still good. seq is the highest sequence number
// seen.
type journalError struct {
	line int
	seq  uint64
	err  error
}

func (e *journalError) Error() string {
	return fmt.Sprintf("journal line %d is damaged: %v", e.line, e.err)
}

// read returns a job as its base and journal have it, and the sequence
// number of its last applied save. On a *journalError the job is the base
// plus the journal's good lines.
func (s *Store) read(id string) (*Job, uint64, error) {
	b, err := os.ReadFile(s.basePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %s", ErrNoJob, id)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read the job file: %w", err)
	}
	j := &Job{}
	base := baseFile{Job: j}
	if err := json.Unmarshal(b, &base); err != nil {
		return nil, 0, fmt.Errorf("the job file is not valid JSON: %w", err)
	}
	if j.ID != id {
		return nil, 0, fmt.Errorf("the job file holds job %q", j.ID)
	}
	jb, err := os.ReadFile(s.journalPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return j, base.StoreSeq, nil
	}
	if err != nil {
		return j, base.StoreSeq, &journalError{line: 1, seq: base.StoreSeq, err: err}
	}
	seq, err := replay(j, base.StoreSeq, jb)
	return j, seq, err
}

// replay applies the journal's lines numbered above seq to j and returns
// the last sequence number applied. A damaged final line is a save torn by
// a crash and is ignored; damage before it is a *journalError.
func replay(j *Job, seq uint64, jb []byte) (uint64, error) {
	maxSeq := seq
	for n := 1; len(jb) > 0; n++ {
		i := bytes.IndexByte(jb, '\n')
		if i < 0 {
			break // torn: the save never completed
		}
		line := jb[:i]
		jb = jb[i+1:]
		e, ok := decodeLine(line)
		if !ok {
			if len(bytes.TrimRight(jb, "\x00")) == 0 {
				break // the last line, torn (some file systems leave zeros)
			}
			return maxSeq, &journalError{line: n, seq: maxSeq, err: errors.New("bad checksum or JSON")}
		}
		maxSeq = max(maxSeq, e.Seq)
		if e.Seq <= seq {
			continue // written before the base was
		}
		if err := apply(j, e); err != nil {
			return maxSeq, &journalError{line: n, seq: maxSeq, err: err}
		}
		seq = e.Seq
	}
	return seq, nil
}

// journalSeq is the highest sequence number among the journal's good lines.
func journalSeq(path string) uint64 {
	jb, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	var seq uint64
	for _, line := range bytes.Split(jb, []byte{'\n'}) {
		if e, ok := decodeLine(line); ok {
			seq = max(seq, e.Seq)
		}
	}
	return seq
}

// apply updates j with one save's changes.
func apply(j *Job, e entry) error {
	if len(e.Head) > 0 {
		var h Job
		if err := json.Unmarshal(e.Head, &h); err != nil {
			return fmt.Errorf("header: %w", err)
		}
		h.Spec, h.Dataset, h.Rounds = j.Spec, j.Dataset, j.Rounds
		*j = h
	}
	if len(e.Spec) > 0 {
		j.Spec = nil
		if string(e.Spec) != "null" {
			j.Spec = append(json.RawMessage(nil), e.Spec...)
		}
	}
	if len(e.Dataset) > 0 {
		var d DatasetInfo
		if err := json.Unmarshal(e.Dataset, &d); err != nil {
			return fmt.Errorf("dataset: %w", err)
		}
		j.Dataset = d
	}
	if e.N < 0 {
		return fmt.Errorf("%d rounds", e.N)
	}
	old := len(j.Rounds)
	if e.N <= old {
		j.Rounds = j.Rounds[:e.N]
	} else {
		j.Rounds = append(j.Rounds, make([]Round, e.N-old)...)
	}
	got := map[int]bool{}
	for _, r := range e.Rounds {
		if r.I < 0 || r.I >= e.N {
			return fmt.Errorf("round %d of %d", r.I, e.N)
		}
		var rd Round
		if err := json.Unmarshal(r.R, &rd); err != nil {
			return fmt.Errorf("round %d: %w", r.I, err)
		}
		j.Rounds[r.I] = rd
		got[r.I] = true
	}
	for i := old; i < e.N; i++ {
		if !got[i] {
			return fmt.Errorf("round %d was added without its content", i)
		}
	}
	return nil
}
