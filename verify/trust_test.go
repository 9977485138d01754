package verify

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestTrustScenarios replays each testdata/trust/*.in (lines "<offset>
// <event> [×n]": ran, verified, lost, equivocated, check) on one record
// under DefaultRule and compares the states with the .golden file beside
// it. go test ./verify -run TestTrustScenarios -update rewrites them.
func TestTrustScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/trust/*.in")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios under testdata/trust (err %v)", err)
	}
	for _, in := range files {
		name := strings.TrimSuffix(filepath.Base(in), ".in")
		t.Run(name, func(t *testing.T) {
			got, err := replay(in)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(in, ".in") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s: states differ from %s (rerun with -update if the change is understood)\ngot:\n%s\nwant:\n%s", in, golden, got, want)
			}
		})
	}
}

func replay(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var out strings.Builder
	rec := Record{Key: Key{Peer: "peerA", Class: ClassBuiltin}}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			fmt.Fprintln(&out, text)
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			return "", fmt.Errorf("%s:%d: want \"<offset> <event> [xN]\"", path, line)
		}
		off, err := time.ParseDuration(fields[0])
		if err != nil {
			return "", fmt.Errorf("%s:%d: %w", path, line, err)
		}
		n := 1
		if len(fields) == 3 {
			if n, err = strconv.Atoi(strings.TrimPrefix(fields[2], "x")); err != nil {
				return "", fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		now := epoch.Add(off)
		for range n {
			switch fields[1] {
			case "ran":
				rec.Ran(now)
			case "verified":
				rec.Verified(now, DefaultRule)
			case "lost":
				rec.LostVote(now, DefaultRule)
			case "equivocated":
				rec.Equivocated(now, DefaultRule, "bafyT")
			case "check":
			default:
				return "", fmt.Errorf("%s:%d: unknown event %q", path, line, fields[1])
			}
		}
		fmt.Fprintf(&out, "%s\n  → %s\n", text, state(rec, now))
	}
	return out.String(), sc.Err()
}

func state(r Record, now time.Time) string {
	banned, why := r.Banned(now)
	s := fmt.Sprintf("consecutive=%d run=%d checked=%d verified=%d lost=%d strikes=%d offences=%d p=%.3g",
		r.Consecutive, r.Run, r.Checked, r.Passed, r.Lost, r.Strikes, r.Offences, Probability(r, Rates{Rate: 0.1, MinRateNewPeers: 0.5}))
	if banned {
		s += " banned: " + why
	}
	return s
}

func TestBanFor(t *testing.T) {
	tests := []struct {
		offences int
		want     time.Duration
	}{
		{1, time.Hour}, {2, 4 * time.Hour}, {3, 16 * time.Hour}, {4, 64 * time.Hour}, {6, 30 * 24 * time.Hour}, {100, 30 * 24 * time.Hour},
	}
	for _, tt := range tests {
		if got := DefaultRule.BanFor(tt.offences); got != tt.want {
			t.Errorf("BanFor(%d) = %v, want %v", tt.offences, got, tt.want)
		}
	}
	huge := Rule{Base: time.Hour, Growth: 1 << 40, Max: 1 << 62}
	for n := 1; n < 6; n++ {
		if got := huge.BanFor(n); got < huge.BanFor(max(n-1, 1)) || got > huge.Max {
			t.Errorf("huge growth: BanFor(%d) = %v, want monotone and at most %v", n, got, huge.Max)
		}
	}
}

func TestBookSnapshotRestore(t *testing.T) {
	b := NewBook(DefaultRule)
	a := Key{Peer: "peerA", Class: ClassBuiltin}
	c := Key{Peer: "peerC", Class: ClassProcess}
	b.Update(a, func(r *Record) { r.Ran(epoch); r.Verified(epoch, b.Rule) })
	b.Update(c, func(r *Record) { r.Ran(epoch); r.LostVote(epoch, b.Rule); r.LostVote(epoch.Add(time.Minute), b.Rule) })
	snap, err := b.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	back, err := Restore(snap, DefaultRule)
	if err != nil {
		t.Fatalf("Restore: %v", err)
	}
	again, _ := back.Snapshot()
	if string(again) != string(snap) {
		t.Errorf("snapshot after restore differs:\n got %s\nwant %s", again, snap)
	}
	if got := back.Get(a); got.Passed != 1 || got.Run != 1 || !got.FirstSeen.Equal(epoch) {
		t.Errorf("restored %v = %+v, want 1 run, 1 verified, first seen %v", a, got, epoch)
	}
	if banned, why := back.Banned("peerC", epoch.Add(2*time.Minute)); !banned || !strings.Contains(why, "lost 2 votes") {
		t.Errorf("Banned(peerC) = %v %q, want banned for 2 lost votes", banned, why)
	}
	if banned, _ := back.Banned("peerC", epoch.Add(2*time.Hour)); banned {
		t.Errorf("peerC still banned after its 1 h ban expired")
	}
	if banned, _ := back.Banned("peerA", epoch); banned {
		t.Errorf("peerA banned, want not")
	}
	for _, bad := range []string{`{`, `{"version":2,"records":[]}`, `{"version":1,"records":[{"peer":"","class":"wasm"}]}`,
		`{"version":1,"records":[{"peer":"p","class":"wasm"},{"peer":"p","class":"wasm"}]}`} {
		if _, err := Restore([]byte(bad), DefaultRule); err == nil {
			t.Errorf("Restore(%s) succeeded, want an error", bad)
		}
	}
}

// event applies a random transition; used by the property tests.
func event(t *rapid.T, r *Record, now time.Time) {
	switch rapid.IntRange(0, 3).Draw(t, "event") {
	case 0:
		r.Ran(now)
	case 1:
		r.Verified(now, DefaultRule)
	case 2:
		r.LostVote(now, DefaultRule)
	case 3:
		r.Equivocated(now, DefaultRule, "t")
	}
}

func TestPropertyTrustNeverGrowsOnLostVote(t *testing.T) {
	rates := Rates{Rate: 0.1, MinRateNewPeers: 0.5}
	rapid.Check(t, func(t *rapid.T) {
		var r Record
		now := epoch
		for range rapid.IntRange(0, 60).Draw(t, "n") {
			now = now.Add(time.Duration(rapid.IntRange(0, 3600).Draw(t, "dt")) * time.Second)
			event(t, &r, now)
		}
		before := r
		r.LostVote(now, DefaultRule)
		if r.Consecutive != 0 || r.Passed != before.Passed || r.Lost != before.Lost+1 {
			t.Fatalf("after a lost vote %+v, want consecutive 0, verified %d, lost %d", r, before.Passed, before.Lost+1)
		}
		if p, q := Probability(before, rates), Probability(r, rates); q < p {
			t.Fatalf("check probability fell from %v to %v on a lost vote", p, q)
		}
		if q := Probability(r, rates); q != 1 {
			t.Fatalf("check probability after a lost vote = %v, want 1", q)
		}
	})
}

func TestPropertyBanExpiryMonotone(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var r Record
		now := epoch
		for range rapid.IntRange(1, 80).Draw(t, "n") {
			now = now.Add(time.Duration(rapid.IntRange(0, 7200).Draw(t, "dt")) * time.Second)
			before := r
			event(t, &r, now)
			if r.BannedUntil.Before(before.BannedUntil) {
				t.Fatalf("ban expiry moved back from %v to %v", before.BannedUntil, r.BannedUntil)
			}
			if r.Offences > before.Offences && r.Offences > 1 {
				if DefaultRule.BanFor(r.Offences) < DefaultRule.BanFor(before.Offences) {
					t.Fatalf("ban %d shorter than ban %d", r.Offences, before.Offences)
				}
			}
		}
	})
}

func TestAgreement(t *testing.T) {
	tests := []struct {
		rec  Record
		want float64
	}{
		{Record{}, 0.5},
		{Record{Checked: 8, Passed: 8}, 0.9},
		{Record{Checked: 8, Passed: 0, Lost: 8}, 0.1},
	}
	for _, tt := range tests {
		if got := tt.rec.Agreement(); got != tt.want {
			t.Errorf("Agreement(%+v) = %v, want %v", tt.rec, got, tt.want)
		}
	}
}
