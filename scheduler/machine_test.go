package scheduler

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler/placement"
	"github.com/gridswarm/gridswarm/verify"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// epoch is the scenarios' time zero.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// scenario runs a round machine through a script of events. Commands, one a
// line (times are offsets from epoch):
//
//	config tasklets=N rounds=N deadline=D retry=D backoff=D straggler=F [verify=RATE newpeers=RATE replicawait=D]
//	peer ID [slots=N] [idle=false] [why=R] [executors=a,b] [account=A] [addr=IP] [banned=true] [rtt=D]   (add or replace a worker; why: its idle reason)
//	draws yes,no,…  (the next spot-check draws: yes always checks, no checks only at rate 1)
//	trust           (print the trust records)
//	unpeer ID                                        (the worker leaves the snapshot: it disconnected)
//	tick T
//	done T t=I a=K [out=CID] | decline T t=I a=K reason=R | fail T t=I a=K | lost T t=I a=K
//	outputlost T t=I
//	stop T
//	restart T      (a new machine from the saved round, as after a crash)
//	resume T       (job resume: barred peers get another chance)
type scenario struct {
	draws scriptedDraws
	cfg   MachineConfig
	rd    *Round
	m     *Machine
	peers []placement.Peer
	out   strings.Builder
}

func rel(t time.Time) string { return "+" + t.Sub(epoch).String() }

func kv(fields []string) map[string]string {
	out := map[string]string{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			out[k] = v
		}
	}
	return out
}

func (s *scenario) at(f string) time.Time {
	d, err := time.ParseDuration(f)
	if err != nil {
		panic(fmt.Sprintf("bad time %q", f))
	}
	return epoch.Add(d)
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(fmt.Sprintf("bad number %q", s))
	}
	return n
}

func dur(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(fmt.Sprintf("bad duration %q", s))
	}
	return d
}

func (s *scenario) configure(a map[string]string) {
	n := atoi(a["tasklets"])
	s.cfg = MachineConfig{
		JobID: "job-1", Round: 0, Rounds: atoi(a["rounds"]), Deadline: epoch.Add(dur(a["deadline"])),
		Template: placement.Tasklet{Executor: "builtin", Samples: 100},
		Weights:  "w0", WeightsBytes: 1 << 20, ShardBytes: map[string]uint64{},
		RetryEvery: dur(a["retry"]), Backoffs: NewBackoffs(dur(a["backoff"]), time.Minute),
	}
	if f, ok := a["straggler"]; ok {
		s.cfg.StragglerFactor, _ = strconv.ParseFloat(f, 64)
	}
	if r, ok := a["verify"]; ok {
		rate, _ := strconv.ParseFloat(r, 64)
		newPeers, _ := strconv.ParseFloat(a["newpeers"], 64)
		s.cfg.Verify = VerifyConfig{Trust: NewTrust(verify.DefaultRule), Class: verify.ClassBuiltin, Rand: &s.draws,
			Rates: verify.Rates{Rate: rate, MinRateNewPeers: newPeers}, Comparator: verify.Comparator{Class: verify.ClassBuiltin}}
		if d, ok := a["replicawait"]; ok {
			s.cfg.ReplicaWait = dur(d)
		}
	}
	s.rd = &Round{}
	for i := range n {
		sh := fmt.Sprintf("shard%d", i)
		s.cfg.ShardBytes[sh] = 1000
		s.rd.Tasklets = append(s.rd.Tasklets, Tasklet{Index: i, Shard: sh, State: TaskPending})
	}
	s.m = NewMachine(s.cfg, s.rd, epoch)
}

func (s *scenario) setPeer(id string, a map[string]string) {
	p := placement.Peer{ID: id, Executors: []string{"builtin"}, Idle: a["idle"] != "false", IdleReason: a["why"], Throughput: 100, BandwidthBps: 1e8, Reputation: 0.5, Version: "1.0.0", Banned: a["banned"] == "true"}
	if v, ok := a["slots"]; ok {
		p.Slots = atoi(v)
	}
	if v, ok := a["executors"]; ok {
		p.Executors = strings.Split(v, ",")
	}
	if v, ok := a["rtt"]; ok {
		p.RTT = dur(v)
	}
	p.Account = a["account"]
	if v, ok := a["addr"]; ok {
		p.Addrs = []netip.Addr{netip.MustParseAddr(v)}
	}
	for i := range s.peers {
		if s.peers[i].ID == id {
			s.peers[i] = p
			return
		}
	}
	s.peers = append(s.peers, p)
}

func (s *scenario) print(ds []Decision) {
	for _, d := range ds {
		if d.Kind == DecideWait {
			fmt.Fprintf(&s.out, "  wait until %s", rel(d.Until))
			if d.Reason != "" {
				fmt.Fprintf(&s.out, ": %s", d.Reason)
			}
			s.out.WriteString("\n")
			continue
		}
		fmt.Fprintf(&s.out, "  %s\n", d)
	}
}

// state prints each tasklet: its state and attempts (peer:outcome), then
// the peers placement filtered out this round, if any.
func (s *scenario) state() {
	defer func() {
		var fs []string
		for p, why := range s.rd.Filtered {
			fs = append(fs, p+" "+why)
		}
		if len(fs) > 0 {
			sort.Strings(fs)
			fmt.Fprintf(&s.out, "  | filtered: %s\n", strings.Join(fs, ", "))
		}
	}()
	for _, t := range s.rd.Tasklets {
		var as []string
		for _, a := range t.Attempts {
			as = append(as, a.Peer+":"+a.Outcome)
		}
		fmt.Fprintf(&s.out, "  | t%d %s [%s]%s\n", t.Index, t.State, strings.Join(as, " "), checkLine(t))
	}
}

// checkLine describes a tasklet's spot check, if it has one.
func checkLine(t Tasklet) string {
	c := t.Check
	if c == nil {
		return ""
	}
	var rs []string
	for _, r := range c.Results {
		rs = append(rs, r.Peer+"="+r.Output)
	}
	s := fmt.Sprintf(" check(need %d, p=%.2g, results [%s]", c.Need, c.Probability, strings.Join(rs, " "))
	if c.Outcome != "" {
		s += ", " + c.Outcome
		if len(c.Losers) > 0 {
			s += ", lost: " + strings.Join(c.Losers, " ")
		}
	}
	if t.State == TaskDone {
		s += ", accepted " + t.Output
	}
	if t.Dropped != "" {
		s += ", dropped: " + t.Dropped
	}
	return s + ")"
}

// scriptedDraws is a scenario's randomness: each spot-check draw reads 8
// bytes, zeros for a "yes" (u = 0 is below any rate) and ones for a "no"
// (u just below 1: above every rate but 1). Unscripted draws are "no".
type scriptedDraws struct{ next []bool }

func (d *scriptedDraws) Read(b []byte) (int, error) {
	yes := false
	if len(d.next) > 0 {
		yes, d.next = d.next[0], d.next[1:]
	}
	for i := range b {
		b[i] = 0xff
		if yes {
			b[i] = 0
		}
	}
	return len(b), nil
}

func (s *scenario) run(line string) {
	f := strings.Fields(line)
	a := kv(f)
	switch f[0] {
	case "config":
		s.configure(a)
	case "peer":
		s.setPeer(f[1], a)
	case "unpeer":
		for i := range s.peers {
			if s.peers[i].ID == f[1] {
				s.peers = append(s.peers[:i], s.peers[i+1:]...)
				break
			}
		}
	case "tick":
		s.print(s.m.Tick(s.at(f[1]), s.peers))
	case "draws":
		for _, w := range strings.Split(f[1], ",") {
			s.draws.next = append(s.draws.next, w == "yes")
		}
	case "trust":
		for _, r := range s.cfg.Verify.Trust.Records() {
			banned, why := r.Banned(s.at(f[1]))
			fmt.Fprintf(&s.out, "  trust %s: ran %d, verified %d, lost %d, consecutive %d, banned %v %s\n", r.Peer, r.Run, r.Passed, r.Lost, r.Consecutive, banned, why)
		}
	case "done", "decline", "fail", "lost":
		o := Outcome{Tasklet: atoi(a["t"]), Attempt: atoi(a["a"]), Reason: a["reason"], Detail: f[0]}
		o.Kind = map[string]OutcomeKind{"done": EndDone, "decline": EndDeclined, "fail": EndFailed, "lost": EndLost}[f[0]]
		if o.Kind == EndDone {
			o.Receipt = receipt.Receipt{OutputCID: fmt.Sprintf("out%d", o.Tasklet)}
			if v, ok := a["out"]; ok {
				o.Receipt.OutputCID = v
			}
		}
		s.print(s.m.Observe(s.at(f[1]), o))
	case "outputlost":
		s.m.OutputLost(s.at(f[1]), atoi(a["t"]), "its output could not be fetched")
	case "stop":
		s.print(s.m.Stop(s.at(f[1]), "cancelled by the user"))
	case "resume":
		forgiveExclusions(s.rd)
		s.m = NewMachine(s.cfg, s.rd, s.at(f[1]))
	case "restart":
		b, err := json.Marshal(s.rd)
		if err != nil {
			panic(err)
		}
		s.rd = &Round{}
		if err := json.Unmarshal(b, s.rd); err != nil {
			panic(err)
		}
		s.cfg.Backoffs = NewBackoffs(s.cfg.Backoffs.Base, s.cfg.Backoffs.Max) // lost with the process
		s.m = NewMachine(s.cfg, s.rd, s.at(f[1]))
	default:
		panic(fmt.Sprintf("unknown command %q", f[0]))
	}
	if f[0] != "config" && f[0] != "peer" && f[0] != "unpeer" && f[0] != "draws" && f[0] != "trust" {
		s.state()
	}
}

func TestMachineGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/machine/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			s := &scenario{}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if line == "" || strings.HasPrefix(line, "#") {
					fmt.Fprintln(&s.out, line)
					continue
				}
				fmt.Fprintf(&s.out, "> %s\n", line)
				s.run(line)
			}
			golden := strings.TrimSuffix(file, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(s.out.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got := s.out.String(); got != string(want) {
				t.Errorf("scenario %s differs from %s (-update rewrites it once the change is understood)\ngot:\n%s\nwant:\n%s", file, golden, got, want)
			}
		})
	}
}
