package scheduler

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gridswarm/gridswarm/internal/fsutil"
)

// Store keeps each job as a base snapshot, <id>.json, and an append-only
// journal of what changed since, <id>.journal:
//
//	Save ──► first save of the job in this process, or journal too long?
//	           yes: write the whole job to <id>.json (atomic rename), drop the journal
//	           no:  append one line with the parts that changed, fsync it
//	Load ──► <id>.json, then replay the journal lines written after it
//
// A Save writes the job's header and the rounds that changed, not the whole
// job, so its cost does not grow with the number of rounds; the journal is
// folded back into the base once it grows past a few times the base's size.
// A crash at any moment loses at most the Save in progress: a torn last
// journal line is ignored. A file that cannot be read or decoded is moved to
// the quarantine folder (see Quarantined) so that one bad file never stops
// the daemon. A base written by an older daemon (one file per job, no
// journal) reads as a base with an empty journal.
//
// A Store is safe for concurrent use; only one process may use a folder.
type Store struct {
	dir string
	o   StoreOptions

	mu          sync.Mutex
	jobs        map[string]*written // what this process last wrote of each job
	quarantined []Quarantined
	bytes       int64 // bytes written, for benchmarks
}

// StoreOptions tune a Store. Zero values take the defaults in brackets.
type StoreOptions struct {
	Logger *slog.Logger     // warnings about quarantined files [discard]
	Now    func() time.Time // clock for Job.Updated and quarantine names [time.Now]
	// CompactRatio: the journal is folded into the base once it is larger
	// than this many times the base [4] …
	CompactRatio int64
	// CompactMin: … and larger than this many bytes [64 KiB].
	CompactMin int64
}

// Quarantined is a file the store moved aside because it could not use it.
type Quarantined struct {
	Path   string    `json:"path"`   // where the file lies now
	Job    string    `json:"job"`    // the job it belonged to
	Reason string    `json:"reason"` // why it was moved
	Time   time.Time `json:"time"`   // when
}

// QuarantineDir is the folder, inside the jobs folder, that unusable job
// files are moved to.
const QuarantineDir = "quarantine"

// ErrNoJob is returned for an unknown job ID.
var ErrNoJob = errors.New("no such job")

// ErrCorrupt is returned by Load for a job whose file could not be read or
// decoded; the file has been moved to the quarantine folder.
var ErrCorrupt = errors.New("job state is corrupt")

const (
	baseExt    = ".json"
	journalExt = ".journal"
	whyExt     = ".why"
)

// NewStore opens (creating) the jobs folder with default options.
func NewStore(dir string) (*Store, error) { return OpenStore(dir, StoreOptions{}) }

// OpenStore opens (creating) the jobs folder and reads what earlier runs
// left in its quarantine folder.
func OpenStore(dir string, o StoreOptions) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CompactRatio <= 0 {
		o.CompactRatio = 4
	}
	if o.CompactMin <= 0 {
		o.CompactMin = 64 << 10
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the jobs folder: %w", err)
	}
	s := &Store{dir: dir, o: o, jobs: map[string]*written{}}
	q, err := readQuarantine(filepath.Join(dir, QuarantineDir))
	if err != nil {
		return nil, err
	}
	s.quarantined = q
	return s, nil
}

func (s *Store) basePath(id string) string    { return filepath.Join(s.dir, id+baseExt) }
func (s *Store) journalPath(id string) string { return filepath.Join(s.dir, id+journalExt) }

func checkID(id string) error {
	if strings.ContainsAny(id, "/\\.") || id == "" {
		return fmt.Errorf("%w: %q", ErrNoJob, id)
	}
	return nil
}

// Save records j's current state and sets j.Updated. It appends what
// changed since the last Save to the job's journal, or rewrites the base
// when this process has not written the job yet or the journal has grown
// long. When Save returns nil the state survives a crash; when it returns
// an error the previous state does (the next Save rewrites the base).
func (s *Store) Save(j *Job) error {
	if err := checkID(j.ID); err != nil {
		return fmt.Errorf("cannot save job: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	j.Updated = s.o.Now().UTC()
	w := s.jobs[j.ID]
	if w == nil {
		return s.compact(j, s.seqOnDisk(j.ID)+1)
	}
	e, err := w.diff(j)
	if err != nil {
		delete(s.jobs, j.ID)
		return fmt.Errorf("cannot encode job %s: %w", j.ID, err)
	}
	line, err := encodeLine(e)
	if err != nil {
		delete(s.jobs, j.ID)
		return fmt.Errorf("cannot encode job %s: %w", j.ID, err)
	}
	if grown := w.journalBytes + int64(len(line)); grown > s.o.CompactMin && grown > s.o.CompactRatio*w.baseBytes {
		return s.compact(j, e.Seq)
	}
	if err := s.appendJournal(j.ID, line, w.journalBytes == 0); err != nil {
		delete(s.jobs, j.ID) // the journal may end in a torn line: rewrite the base next time
		return fmt.Errorf("cannot save job %s: %w", j.ID, err)
	}
	w.journalBytes += int64(len(line))
	return nil
}

// compact writes j whole as the base with sequence number seq and drops
// the journal, whose lines all have lower numbers.
func (s *Store) compact(j *Job, seq uint64) error {
	b, next, err := encodeBase(j, seq)
	if err != nil {
		return fmt.Errorf("cannot encode job %s: %w", j.ID, err)
	}
	if err := fsutil.WriteFile(s.basePath(j.ID), b, 0o600); err != nil {
		delete(s.jobs, j.ID)
		return fmt.Errorf("cannot save job %s: %w", j.ID, err)
	}
	s.bytes += int64(len(b))
	// A crash before this removal leaves journal lines numbered at most
	// seq-1: Load skips them.
	if err := os.Remove(s.journalPath(j.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		delete(s.jobs, j.ID)
		return fmt.Errorf("cannot drop the journal of job %s: %w", j.ID, err)
	}
	s.jobs[j.ID] = next
	return nil
}

// seqOnDisk is the highest sequence number in the job's files, 0 if none
// can be read: a new base must be numbered above every journal line.
func (s *Store) seqOnDisk(id string) uint64 {
	_, seq, err := s.read(id)
	var je *journalError
	switch {
	case err == nil:
		return seq
	case errors.As(err, &je):
		return je.seq
	default:
		return journalSeq(s.journalPath(id))
	}
}

func (s *Store) appendJournal(id string, line []byte, create bool) error {
	path := s.journalPath(id)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open its journal: %w", err)
	}
	n, err := f.Write(line)
	s.bytes += int64(n)
	if err != nil {
		f.Close()
		return fmt.Errorf("cannot append to its journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("cannot sync its journal: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot close its journal: %w", err)
	}
	if create {
		return fsutil.SyncDir(s.dir)
	}
	return nil
}

// Load reads one job. A job whose files cannot be read or decoded is moved
// to the quarantine folder and Load returns an error wrapping ErrCorrupt.
// A journal that is corrupt past a valid prefix is quarantined alone: the
// job is recovered as of its last valid line.
func (s *Store) Load(id string) (*Job, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.load(id)
}

func (s *Store) load(id string) (*Job, error) {
	j, seq, err := s.read(id)
	var je *journalError
	switch {
	case err == nil:
		return j, nil
	case errors.Is(err, ErrNoJob):
		return nil, err
	case errors.As(err, &je):
		// The base and the journal's first lines are good: keep the job as
		// they have it, set the rest of the journal aside, and write that
		// state as the new base so disk and memory agree.
		s.quarantine(id, []string{s.journalPath(id)}, err)
		if cerr := s.compact(j, max(seq, je.seq)+1); cerr != nil {
			return nil, cerr
		}
		return j, nil
	default:
		where := s.quarantine(id, []string{s.basePath(id), s.journalPath(id)}, err)
		return nil, fmt.Errorf("%w: job %s: %v; its files were moved to %s", ErrCorrupt, id, err, where)
	}
}

// List reads every job, newest first. Jobs whose files cannot be used are
// quarantined and left out, so one bad file never hides the others.
func (s *Store) List() ([]*Job, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("cannot list jobs: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Job
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), baseExt)
		if !ok || e.IsDir() || checkID(id) != nil {
			continue
		}
		j, err := s.load(id)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrNoJob) {
				s.o.Logger.Warn("skipping a job whose state cannot be read", "job", id, "err", err)
			}
			continue
		}
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Submitted.After(out[b].Submitted) })
	return out, nil
}

// Remove deletes a job's state for good.
func (s *Store) Remove(id string) error {
	if err := checkID(id); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.jobs, id)
	for _, p := range []string{s.journalPath(id), s.basePath(id)} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot remove job %s: %w", id, err)
		}
	}
	return fsutil.SyncDir(s.dir)
}

// Quarantined lists the files moved aside, by this run or earlier ones,
// oldest first. Deleting them from the quarantine folder (and restarting)
// clears the list.
func (s *Store) Quarantined() []Quarantined {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Quarantined(nil), s.quarantined...)
}

// quarantine moves the given files of job id (those that exist) into the
// quarantine folder, each beside a .why file holding the reason, and
// returns where the first one went.
func (s *Store) quarantine(id string, paths []string, cause error) string {
	now := s.o.Now().UTC()
	qdir := filepath.Join(s.dir, QuarantineDir)
	reason := cause.Error()
	first := ""
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			continue
		}
		dst := filepath.Join(qdir, filepath.Base(p)+"."+now.Format("20060102T150405.000000000Z"))
		q := Quarantined{Path: dst, Job: id, Reason: reason, Time: now}
		if err := moveAside(qdir, p, dst, reason); err != nil {
			// It stays where it is; it is still skipped and still reported.
			q.Path, q.Reason = p, reason+" (could not be moved aside: "+err.Error()+")"
		}
		if first == "" {
			first = q.Path
		}
		s.quarantined = append(s.quarantined, q)
		s.o.Logger.Warn("job state file quarantined", "job", id, "file", q.Path, "reason", q.Reason)
	}
	delete(s.jobs, id)
	return first
}

func moveAside(qdir, src, dst, reason string) error {
	if err := os.MkdirAll(qdir, 0o700); err != nil {
		return err
	}
	if err := fsutil.WriteFile(dst+whyExt, []byte(reason+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.Rename(src, dst); err != nil {
		os.Remove(dst + whyExt)
		return err
	}
	if err := fsutil.SyncDir(qdir); err != nil {
		return err
	}
	return fsutil.SyncDir(filepath.Dir(src))
}

// readQuarantine lists the files in the quarantine folder with the reasons
// recorded beside them.
func readQuarantine(qdir string) ([]Quarantined, error) {
	entries, err := os.ReadDir(qdir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot list the quarantined job files: %w", err)
	}
	var out []Quarantined
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasSuffix(name, whyExt) || strings.HasPrefix(name, ".") {
			continue
		}
		q := Quarantined{Path: filepath.Join(qdir, name), Reason: "unknown (no reason was recorded)"}
		if info, err := e.Info(); err == nil {
			q.Time = info.ModTime().UTC()
		}
		if why, err := os.ReadFile(q.Path + whyExt); err == nil {
			q.Reason = strings.TrimSpace(string(why))
			if info, err := os.Stat(q.Path + whyExt); err == nil {
				q.Time = info.ModTime().UTC() // when it was moved
			}
		}
		if i := strings.IndexAny(name, "."); i > 0 {
			q.Job = name[:i]
		}
		out = append(out, q)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Time.Before(out[b].Time) })
	return out, nil
}
