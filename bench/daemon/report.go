package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// spread is the min, median and max of a sample.
type spread struct{ min, median, max float64 }

// summarize returns the spread of xs; the median of an even count is the
// mean of the middle two. An empty sample gives zeros.
func summarize(xs []float64) spread {
	if len(xs) == 0 {
		return spread{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	mid := len(s) / 2
	med := s[mid]
	if len(s)%2 == 0 {
		med = (s[mid-1] + s[mid]) / 2
	}
	return spread{min: s[0], median: med, max: s[len(s)-1]}
}

// millis converts durations to milliseconds.
func millis(ds []time.Duration) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(d) / float64(time.Millisecond)
	}
	return out
}

// mibs picks one field of each memory reading, in MiB.
func mibs(ms []memory, field func(memory) int64) []float64 {
	out := make([]float64, len(ms))
	for i, m := range ms {
		out[i] = float64(field(m)) / 1024
	}
	return out
}

// machine describes where the run happened, in markdown list items; bins
// maps each daemon's name to its binary.
func machine(bins map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- CPU: %s, %d logical cores (`nproc`)\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintf(&b, "- memory: %s\n", firstField("/proc/meminfo", "MemTotal"))
	fmt.Fprintf(&b, "- kernel: %s\n", strings.TrimSpace(readOr("/proc/sys/kernel/osrelease", "?")))
	fmt.Fprintf(&b, "- benchmark built with %s\n", runtime.Version())
	for _, name := range slices.Sorted(maps.Keys(bins)) {
		fmt.Fprintf(&b, "- %s: `%s`, binary %.1f MiB\n", name, version(bins[name]), binarySize(bins[name]))
	}
	return b.String()
}

// version runs `bin version` and returns its first output line.
func version(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return fmt.Sprintf("version unknown: %v", err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

// binarySize gives a binary's size in MiB: on kernels that map large
// page-cache folios whole, a Go daemon's file-backed RSS is close to the
// size of its loaded image.
func binarySize(bin string) float64 {
	st, err := os.Stat(bin)
	if err != nil {
		return 0
	}
	return float64(st.Size()) / (1 << 20)
}

func cpuModel() string {
	return firstField("/proc/cpuinfo", "model name")
}

// firstField returns the value of the first "key: value" line of a /proc file.
func firstField(path, key string) string {
	for line := range strings.SplitSeq(readOr(path, ""), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

func loadAvg() string {
	f := strings.Fields(readOr("/proc/loadavg", "? ? ?"))
	return strings.Join(f[:3], " ")
}

func readOr(path, fallback string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fallback
	}
	return string(b)
}

// writeReady writes the ready-time table. The first kind (Kubo unless
// -kinds says otherwise) is the baseline for the ratio column.
func writeReady(w io.Writer, names []string, times [][]time.Duration) {
	fmt.Fprintf(w, "| daemon | rounds | min ms | median ms | max ms | median / %s |\n|---|---:|---:|---:|---:|---:|\n", names[0])
	base := summarize(millis(times[0])).median
	for i, name := range names {
		s := summarize(millis(times[i]))
		fmt.Fprintf(w, "| %s | %d | %.0f | %.0f | %.0f | %.2f |\n", name, len(times[i]), s.min, s.median, s.max, s.median/base)
	}
}

// writeMemory writes the idle-memory table; the first result is the
// baseline for the ratio column.
func writeMemory(w io.Writer, names []string, res []swarmResult) {
	fmt.Fprintf(w, "| daemon | peers seen (min–max) | mesh | VmRSS median MiB | VmRSS max MiB | RSS median / %s | VmHWM median MiB | VmHWM max MiB | RssAnon median MiB | RssFile median MiB | private anonymous median MiB | private anonymous / %s |\n", names[0], names[0])
	fmt.Fprintf(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	base := summarize(mibs(res[0].mem, func(m memory) int64 { return m.RSS })).median
	basePriv := summarize(mibs(res[0].mem, func(m memory) int64 { return m.Private })).median
	for i, name := range names {
		r := res[i]
		rss := summarize(mibs(r.mem, func(m memory) int64 { return m.RSS }))
		hwm := summarize(mibs(r.mem, func(m memory) int64 { return m.HWM }))
		anon := summarize(mibs(r.mem, func(m memory) int64 { return m.Anon }))
		file := summarize(mibs(r.mem, func(m memory) int64 { return m.File }))
		priv := summarize(mibs(r.mem, func(m memory) int64 { return m.Private }))
		p := summarize(ints(r.peers))
		mesh := fmt.Sprintf("full in %.1f s", r.meshAfter.Seconds())
		if !r.meshFull {
			mesh = fmt.Sprintf("incomplete after %.0f s", r.meshAfter.Seconds())
		}
		fmt.Fprintf(w, "| %s | %.0f–%.0f | %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.2f |\n",
			name, p.min, p.max, mesh, rss.median, rss.max, rss.median/base, hwm.median, hwm.max, anon.median, file.median, priv.median, priv.median/basePriv)
	}
}

func ints(xs []int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// writeUnlock writes the scrypt unlock table: each key alone, then both,
// which is what one daemon start pays.
func writeUnlock(w io.Writer, profiles []string, rounds [][]unlockRound) {
	fmt.Fprintf(w, "| profile | scrypt | rounds | libp2p identity median ms | Ethereum key median ms | both: min ms | both: median ms | both: max ms |\n|---|---|---:|---:|---:|---:|---:|---:|\n")
	for i, p := range profiles {
		var id, eth, both []time.Duration
		for _, r := range rounds[i] {
			id, eth, both = append(id, r.identity), append(eth, r.eth), append(both, r.identity+r.eth)
		}
		b := summarize(millis(both))
		fmt.Fprintf(w, "| %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", p, scryptOf(p), len(rounds[i]),
			summarize(millis(id)).median, summarize(millis(eth)).median, b.min, b.median, b.max)
	}
}

// writeGoRuntime writes the medians of each kind's Go runtime figures,
// read just after the memory.
func writeGoRuntime(w io.Writer, names []string, res []swarmResult) {
	fmt.Fprintf(w, "| daemon | heap in use MiB | stacks MiB | GC metadata MiB | Go sys MiB | goroutines | threads |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for i, name := range names {
		med := func(key string, scale float64) float64 {
			xs := make([]float64, 0, len(res[i].goStats))
			for _, g := range res[i].goStats {
				if v, ok := g[key]; ok {
					xs = append(xs, v/scale)
				}
			}
			return summarize(xs).median
		}
		fmt.Fprintf(w, "| %s | %.1f | %.1f | %.1f | %.1f | %.0f | %.0f |\n", name,
			med(heapInuse, 1<<20), med(stackInuse, 1<<20), med(gcSys, 1<<20), med(goSys, 1<<20), med(goroutines, 1), med(threads, 1))
	}
}
