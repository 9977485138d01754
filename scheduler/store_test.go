package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/gridswarm/gridswarm/receipt"
)

// testClock is an injected clock that moves one second per reading.
type testClock struct{ t time.Time }

func (c *testClock) now() time.Time {
	c.t = c.t.Add(time.Second)
	return c.t
}

func openTestStore(t testing.TB, dir string, o StoreOptions) *Store {
	t.Helper()
	if o.Now == nil {
		c := &testClock{t: time.Unix(1_700_000_000, 0)}
		o.Now = c.now
	}
	s, err := OpenStore(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jobJSON(t testing.TB, j *Job) string {
	t.Helper()
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sampleJob is a job of n rounds with tasklets tasklets each, all but the
// last finished.
func sampleJob(id string, n, tasklets int) *Job {
	j := &Job{ID: id, Name: "sample", Spec: json.RawMessage(`{"version":1,"name":"sample"}`), Status: StatusRunning,
		Submitted: time.Unix(1_600_000_000, 0).UTC(), Weights: "bafyweights",
		Dataset: DatasetInfo{Root: "bafyroot", Train: []string{"bafy-a", "bafy-b"}, Validation: []string{"bafy-v"}, Bytes: map[string]uint64{"bafy-a": 100}}}
	for i := 0; i < n; i++ {
		addRound(j, tasklets)
		if i < n-1 {
			finishRound(j)
		}
	}
	return j
}

func addRound(j *Job, tasklets int) {
	i := len(j.Rounds)
	rd := Round{Index: i, Weights: fmt.Sprintf("bafyweights-%d", i), Started: time.Unix(int64(1_600_000_000+i), 0).UTC()}
	for k := 0; k < tasklets; k++ {
		rd.Tasklets = append(rd.Tasklets, Tasklet{Index: k, Shard: "bafy-a", Seed: uint64(i*100 + k), SpecCID: fmt.Sprintf("bafyspec-%d-%d", i, k), State: TaskPending})
	}
	j.Rounds = append(j.Rounds, rd)
	j.Round = i
}

func finishRound(j *Job) {
	rd := &j.Rounds[len(j.Rounds)-1]
	for k := range rd.Tasklets {
		t := &rd.Tasklets[k]
		t.State, t.Peer, t.Output, t.Loss = TaskDone, "12D3KooWpeer", fmt.Sprintf("bafyout-%d-%d", rd.Index, k), 0.25
		t.Attempts = append(t.Attempts, Attempt{Peer: "12D3KooWpeer", Started: rd.Started, Outcome: "done"})
		t.Receipt = &receipt.Receipt{ComputeMillis: 1234}
	}
	done := rd.Started.Add(time.Minute)
	rd.Finished, rd.Loss, rd.ValAccuracy = &done, 0.3, 0.9
	j.Round = len(j.Rounds)
}

func TestStoreLoadEqualsLastSave(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dir := t.TempDir()
		o := StoreOptions{CompactRatio: int64(rapid.IntRange(1, 4).Draw(rt, "ratio")), CompactMin: int64(rapid.IntRange(1, 8192).Draw(rt, "min"))}
		s := openTestStore(t, dir, o)
		j := sampleJob("prop-1", rapid.IntRange(0, 3).Draw(rt, "rounds"), 2)
		if err := s.Save(j); err != nil {
			rt.Fatal(err)
		}
		steps := rapid.IntRange(1, 40).Draw(rt, "steps")
		for i := 0; i < steps; i++ {
			switch op := rapid.IntRange(0, 9).Draw(rt, "op"); op {
			case 0:
				addRound(j, rapid.IntRange(0, 3).Draw(rt, "tasklets"))
			case 1:
				if len(j.Rounds) > 0 && j.Rounds[len(j.Rounds)-1].Finished == nil {
					finishRound(j)
				}
			case 2: // an attempt on the current round
				if n := len(j.Rounds); n > 0 && len(j.Rounds[n-1].Tasklets) > 0 {
					t := &j.Rounds[n-1].Tasklets[rapid.IntRange(0, len(j.Rounds[n-1].Tasklets)-1).Draw(rt, "t")]
					t.Attempts = append(t.Attempts, Attempt{Peer: "p", Outcome: rapid.SampledFrom([]string{"running", "declined: busy", "failed: x"}).Draw(rt, "outcome")})
					t.State = TaskRunning
				}
			case 3: // a change to a recent finished round, as a late cancel would make
				if n := len(j.Rounds); n > 0 {
					k := max(0, n-rapid.IntRange(1, recentRounds).Draw(rt, "back"))
					if rd := &j.Rounds[k]; rd.Finished != nil && len(rd.Tasklets) > 0 {
						rd.Tasklets[0].Attempts = append(rd.Tasklets[0].Attempts, Attempt{Peer: "late", Outcome: "cancelled"})
					}
				}
			case 4:
				j.Status = rapid.SampledFrom([]string{StatusRunning, StatusFailed, StatusCancelled, StatusDone}).Draw(rt, "status")
				j.Error = rapid.StringMatching(`[a-z ]{0,20}`).Draw(rt, "error")
			case 5:
				j.Waiting = rapid.StringMatching(`[a-z ]{0,20}`).Draw(rt, "waiting")
			case 6: // the driver drops an unfinished round (resume)
				if n := len(j.Rounds); n > 0 && j.Rounds[n-1].Finished == nil {
					j.Rounds = j.Rounds[:n-1]
				}
			case 7:
				j.Dataset.Test = append(j.Dataset.Test, "bafy-test")
			case 8:
				j.Spec = json.RawMessage(fmt.Sprintf(`{"version":1,"n":%d}`, i))
			case 9: // the daemon restarts
				s = openTestStore(t, dir, o)
				got, err := s.Load(j.ID)
				if err != nil {
					rt.Fatal(err)
				}
				j = got
			}
			if err := s.Save(j); err != nil {
				rt.Fatal(err)
			}
			got, err := s.Load(j.ID)
			if err != nil {
				rt.Fatalf("step %d: Load: %v", i, err)
			}
			if g, w := jobJSON(t, got), jobJSON(t, j); g != w {
				rt.Fatalf("step %d: Load after Save differs\n got %s\nwant %s", i, g, w)
			}
			if fresh, err := openTestStore(t, dir, o).Load(j.ID); err != nil || jobJSON(t, fresh) != jobJSON(t, j) {
				rt.Fatalf("step %d: a fresh store reads a different job (err %v)", i, err)
			}
		}
		if q := s.Quarantined(); len(q) != 0 {
			rt.Fatalf("quarantined %v, want nothing", q)
		}
	})
}

func TestStoreTornTail(t *testing.T) {
	dir := t.TempDir()
	_, saved := savedSteps(t, dir, sampleJob("torn-1", 3, 2), 4)
	journal := filepath.Join(dir, "torn-1"+journalExt)
	full, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "torn-1"+baseExt)
	baseBytes, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(full, []byte{'\n'})
	lastStart := len(full) - len(lines[len(lines)-2])
	tests := []struct {
		name    string
		journal []byte
		want    string
	}{
		{"last line cut short", full[:len(full)-7], saved[2]},
		{"last line without its newline", full[:len(full)-1], saved[2]},
		{"only the checksum", full[:lastStart+5], saved[2]},
		{"zeros after the last line", append(bytes.Clone(full), 0, 0, 0, 0), saved[3]},
		{"a half line appended", append(bytes.Clone(full), []byte(`0badc0de {"seq":99,"he`)...), saved[3]},
		{"bit flip in the last line", flip(full, len(full)-10), saved[2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(journal, tt.journal, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(base, baseBytes, 0o600); err != nil {
				t.Fatal(err)
			}
			s2 := openTestStore(t, dir, StoreOptions{})
			got, err := s2.Load("torn-1")
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if g := jobJSON(t, got); g != tt.want {
				t.Errorf("Load gives waiting %q, updated %s; want the job of %s", got.Waiting, got.Updated, tt.want[:120])
			}
			// Saving on top of a torn journal must not bury the tear.
			got.Waiting = "after the crash"
			if err := s2.Save(got); err != nil {
				t.Fatal(err)
			}
			again, err := openTestStore(t, dir, StoreOptions{}).Load("torn-1")
			if err != nil || again.Waiting != "after the crash" {
				t.Errorf("after a save on the torn journal: %v, %v; want waiting %q", again, err, "after the crash")
			}
			if q := s2.Quarantined(); len(q) != 0 {
				t.Errorf("quarantined %v, want nothing for a torn tail", q)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 0x01
	return out
}

func TestStoreQuarantinesCorruptBase(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, StoreOptions{})
	good := sampleJob("good-1", 1, 1)
	if err := s.Save(good); err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"junk-1":    []byte("{not json"),
		"empty-2":   nil,
		"other-3":   []byte(`{"id":"someone-else"}`),
		"trailing4": []byte(`{"id":"trailing4"} garbage`),
	}
	for id, b := range bad {
		if err := os.WriteFile(filepath.Join(dir, id+baseExt), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A journal beside a corrupt base goes with it.
	if err := os.WriteFile(filepath.Join(dir, "junk-1"+journalExt), []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, StoreOptions{})
	list, err := s.List()
	if err != nil {
		t.Fatalf("List = %v, want the good job despite the bad files", err)
	}
	if len(list) != 1 || list[0].ID != "good-1" {
		t.Fatalf("List = %d jobs, want only good-1", len(list))
	}
	q := s.Quarantined()
	if len(q) != len(bad)+1 {
		t.Fatalf("Quarantined = %+v, want %d files", q, len(bad)+1)
	}
	for _, f := range q {
		if !strings.HasPrefix(f.Path, filepath.Join(dir, QuarantineDir)+string(filepath.Separator)) {
			t.Errorf("%s was not moved into the quarantine folder", f.Path)
		}
		if _, err := os.Stat(f.Path); err != nil {
			t.Errorf("quarantined file: %v", err)
		}
		if f.Reason == "" || f.Job == "" {
			t.Errorf("quarantined %+v lacks its job or reason", f)
		}
	}
	for id := range bad {
		if _, err := os.Stat(filepath.Join(dir, id+baseExt)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still in the jobs folder: %v", id, err)
		}
	}
	// A restarted daemon still reports them, with their reasons.
	again := openTestStore(t, dir, StoreOptions{}).Quarantined()
	if len(again) != len(q) {
		t.Fatalf("after a restart Quarantined = %d files, want %d", len(again), len(q))
	}
	for _, f := range again {
		if strings.HasPrefix(f.Reason, "unknown") || f.Job == "" {
			t.Errorf("after a restart %+v lost its reason or job", f)
		}
	}
	if _, err := s.Load("junk-1"); !errors.Is(err, ErrNoJob) {
		t.Errorf("Load of a quarantined job = %v, want ErrNoJob", err)
	}
}

func TestStoreLoadQuarantinesAndSaysWhere(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad-1"+baseExt), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir, StoreOptions{})
	_, err := s.Load("bad-1")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), QuarantineDir) {
		t.Fatalf("Load = %v, want ErrCorrupt naming the quarantine folder", err)
	}
}

func TestStoreRecoversFromCorruptJournalMiddle(t *testing.T) {
	dir := t.TempDir()
	s, saved := savedSteps(t, dir, sampleJob("mid-1", 2, 2), 4)
	journal := filepath.Join(dir, "mid-1"+journalExt)
	full, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.IndexByte(full, '\n')
	// Damage the second journal line (saves[2]); saves[1] survives.
	if err := os.WriteFile(journal, flip(full, first+12), 0o600); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir, StoreOptions{})
	got, err := s.Load("mid-1")
	if err != nil {
		t.Fatalf("Load = %v, want the job as of the last good line", err)
	}
	if g := jobJSON(t, got); g != saved[1] {
		t.Errorf("Load = %s\nwant %s", g, saved[1])
	}
	q := s.Quarantined()
	if len(q) != 1 || !strings.Contains(q[0].Path, journalExt) || !strings.Contains(q[0].Reason, "line 2") {
		t.Errorf("Quarantined = %+v, want the journal, damaged at line 2", q)
	}
	again, err := openTestStore(t, dir, StoreOptions{}).Load("mid-1")
	if err != nil || jobJSON(t, again) != saved[1] {
		t.Errorf("after recovery a fresh store reads %v, %v; want the recovered job", again, err)
	}
}

func TestStoreReadsTheOldFormat(t *testing.T) {
	dir := t.TempDir()
	j := sampleJob("old-1", 3, 2)
	b, err := json.MarshalIndent(j, "", " ") // as daemons before the journal wrote it
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "old-1.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir, StoreOptions{})
	got, err := s.Load("old-1")
	if err != nil {
		t.Fatal(err)
	}
	if jobJSON(t, got) != jobJSON(t, j) {
		t.Errorf("old-format job read as %s\nwant %s", jobJSON(t, got), jobJSON(t, j))
	}
	finishRound(got)
	if err := s.Save(got); err != nil {
		t.Fatal(err)
	}
	if again, err := openTestStore(t, dir, StoreOptions{}).Load("old-1"); err != nil || jobJSON(t, again) != jobJSON(t, got) {
		t.Errorf("after a save over the old format: %v", err)
	}
}

// A crash after a compaction wrote the new base but before it removed the
// journal leaves stale lines: they must not be replayed over the base.
func TestStoreIgnoresJournalOlderThanBase(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, StoreOptions{})
	j := sampleJob("stale-1", 2, 2)
	for i := 0; i < 3; i++ {
		j.Waiting = fmt.Sprintf("step %d", i)
		if err := s.Save(j); err != nil {
			t.Fatal(err)
		}
	}
	journal := filepath.Join(dir, "stale-1"+journalExt)
	stale, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	j.Waiting = "compacted"
	addRound(j, 1)
	s2 := openTestStore(t, dir, StoreOptions{}) // a new process compacts on its first save
	if err := s2.Save(j); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(journal, stale, 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := openTestStore(t, dir, StoreOptions{}).Load("stale-1")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := jobJSON(t, got), jobJSON(t, j); g != w {
		t.Errorf("stale journal replayed over the base:\n got %s\nwant %s", g, w)
	}
}

// The bytes one event costs do not grow with the job: a save in round 1000
// writes about what a save in round 10 does, compactions included.
func TestStoreWriteCostIsConstantPerEvent(t *testing.T) {
	perEvent := func(rounds int) float64 {
		s := openTestStore(t, t.TempDir(), StoreOptions{})
		j := sampleJob("cost-1", rounds, 4)
		if err := s.Save(j); err != nil {
			t.Fatal(err)
		}
		before := s.bytes
		const events = 400
		for i := 0; i < events; i++ {
			recordEvent(j, i)
			if err := s.Save(j); err != nil {
				t.Fatal(err)
			}
		}
		return float64(s.bytes-before) / events
	}
	small, large := perEvent(10), perEvent(1000)
	if large > 2*small {
		t.Errorf("bytes per event: %.0f at round 1000, %.0f at round 10; want about the same", large, small)
	}
	full := float64(len(jobJSON(t, sampleJob("cost-1", 1000, 4))))
	if large > full/20 {
		t.Errorf("bytes per event at round 1000 = %.0f, want far below a full rewrite (%.0f)", large, full)
	}
}

// recordEvent changes the current round as one driver event would: an
// attempt starts or ends.
func recordEvent(j *Job, i int) {
	rd := &j.Rounds[len(j.Rounds)-1]
	t := &rd.Tasklets[i%len(rd.Tasklets)]
	if n := len(t.Attempts); n > 0 && t.Attempts[n-1].Outcome == "running" {
		t.Attempts[n-1].Outcome = "declined: busy"
		return
	}
	t.Attempts = append(t.Attempts, Attempt{Peer: "12D3KooWpeer", Started: time.Unix(int64(i), 0).UTC(), Outcome: "running"})
	if len(t.Attempts) > 8 {
		t.Attempts = t.Attempts[1:]
	}
}

func TestFingerprintSeesEveryChange(t *testing.T) {
	base := sampleJob("fp-1", 1, 2)
	finishRound(base)
	ended := time.Unix(5, 0).UTC()
	tests := []struct {
		name   string
		change func(rd *Round)
	}{
		{"attempt ended", func(rd *Round) { rd.Tasklets[0].Attempts[0].Ended = &ended }},
		{"attempt outcome", func(rd *Round) { rd.Tasklets[0].Attempts[0].Outcome = "cancelled" }},
		{"attempt added", func(rd *Round) { rd.Tasklets[1].Attempts = append(rd.Tasklets[1].Attempts, Attempt{}) }},
		{"receipt field", func(rd *Round) { rd.Tasklets[0].Receipt.ComputeMillis++ }},
		{"receipt signature", func(rd *Round) { rd.Tasklets[0].Receipt.Signature = []byte{1} }},
		{"tasklet state", func(rd *Round) { rd.Tasklets[1].State = TaskPending }},
		{"round loss", func(rd *Round) { rd.Loss = 0.125 }},
		{"finished time", func(rd *Round) { f := rd.Finished.Add(time.Nanosecond); rd.Finished = &f }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := fingerprint(&base.Rounds[0])
			j := sampleJob("fp-1", 1, 2)
			finishRound(j)
			if got := fingerprint(&j.Rounds[0]); got != want {
				t.Fatalf("the same round fingerprints differently: %x, %x", got, want)
			}
			tt.change(&j.Rounds[0])
			if got := fingerprint(&j.Rounds[0]); got == want {
				t.Errorf("fingerprint did not change")
			}
		})
	}
}

// A change to an old finished round reaches the disk within a bounded
// number of saves, though Save does not look at every round every time.
func TestStoreJournalsOldRoundChangesInTurn(t *testing.T) {
	const rounds = 40
	dir := t.TempDir()
	s := openTestStore(t, dir, StoreOptions{})
	j := sampleJob("old-round-1", rounds, 2)
	if err := s.Save(j); err != nil {
		t.Fatal(err)
	}
	j.Rounds[3].Tasklets[1].Attempts = append(j.Rounds[3].Tasklets[1].Attempts, Attempt{Peer: "late", Outcome: "cancelled"})
	for i := 0; i < rounds/rotateRounds+1; i++ {
		if err := s.Save(j); err != nil {
			t.Fatal(err)
		}
	}
	got, err := openTestStore(t, dir, StoreOptions{}).Load(j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if g, w := jobJSON(t, got), jobJSON(t, j); g != w {
		t.Errorf("after %d saves the change to round 3 is not on disk", rounds/rotateRounds+1)
	}
}

// kill -9 at any byte of a journal append loses at most that save: cut the
// journal at every offset and Load gives the last save whose line is whole.
func TestStoreCutAtEveryByte(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir, StoreOptions{})
	j := sampleJob("cut-1", 1, 1)
	if err := s.Save(j); err != nil {
		t.Fatal(err)
	}
	saved := []string{jobJSON(t, j)}
	for i := 0; i < 6; i++ {
		switch i % 3 {
		case 0:
			recordEvent(j, i)
		case 1:
			finishRound(j)
		case 2:
			addRound(j, 1)
		}
		if err := s.Save(j); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, jobJSON(t, j))
	}
	journal := filepath.Join(dir, "cut-1"+journalExt)
	full, err := os.ReadFile(journal)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(full, []byte{'\n'}); n != len(saved)-1 {
		t.Fatalf("journal has %d lines, want %d (no compaction in this test)", n, len(saved)-1)
	}
	t.Logf("cutting a %d-byte journal of %d lines", len(full), len(saved)-1)
	baseBytes, err := os.ReadFile(filepath.Join(dir, "cut-1"+baseExt))
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut <= len(full); cut++ {
		got := &Job{}
		base := baseFile{Job: got}
		if err := json.Unmarshal(baseBytes, &base); err != nil {
			t.Fatal(err)
		}
		if _, err := replay(got, base.StoreSeq, full[:cut]); err != nil {
			t.Fatalf("journal cut at byte %d: replay: %v", cut, err)
		}
		want := saved[bytes.Count(full[:cut], []byte{'\n'})]
		if g := jobJSON(t, got); g != want {
			t.Fatalf("journal cut at byte %d: Load gives round %d waiting %q, want the save before the cut", cut, got.Round, got.Waiting)
		}
	}
}

// savedSteps saves j n times into a store in dir, changing one field each
// time, and returns the store and the job's JSON after each save.
func savedSteps(t *testing.T, dir string, j *Job, n int) (*Store, []string) {
	t.Helper()
	s := openTestStore(t, dir, StoreOptions{})
	var saved []string
	for i := range n {
		j.Waiting = fmt.Sprintf("step %d", i)
		if err := s.Save(j); err != nil {
			t.Fatal(err)
		}
		saved = append(saved, jobJSON(t, j))
	}
	return s, saved
}
