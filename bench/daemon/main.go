package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// options is the benchmark's command line.
type options struct {
	gridswarm, ipfs string
	modes           string
	rounds          int
	unlockRounds    int
	peers           int
	idle            time.Duration
	meshTimeout     time.Duration
	readyTimeout    time.Duration
	standard        bool
	kinds           string
	kuboRouting     string
	kuboQUIC        bool
	work            string
	out             string
}

func parseFlags(args []string) (options, error) {
	var c options
	fs := flag.NewFlagSet("daemon", flag.ContinueOnError)
	fs.StringVar(&c.gridswarm, "gridswarm", "/tmp/gs", "gridswarm binary")
	fs.StringVar(&c.ipfs, "ipfs", "/tmp/gridswarm-kubo/ipfs", "Kubo's ipfs binary (bench/kubo/build.sh)")
	fs.StringVar(&c.modes, "modes", "unlock,ready,memory", "comma-separated: unlock, ready, memory")
	fs.IntVar(&c.rounds, "rounds", 10, "ready-time rounds per daemon kind")
	fs.IntVar(&c.unlockRounds, "unlock-rounds", 10, "identity unlocks timed per scrypt cost")
	fs.IntVar(&c.peers, "peers", 8, "daemons per kind in the memory run")
	fs.DurationVar(&c.idle, "idle", 60*time.Second, "idle time before memory is read")
	fs.DurationVar(&c.meshTimeout, "mesh-timeout", 60*time.Second, "how long to wait for every daemon to see peers-1 peers")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 60*time.Second, "how long one daemon may take to become ready")
	fs.BoolVar(&c.standard, "standard", true, "keep gridswarm-standard (keys sealed at the standard scrypt cost) in -kinds")
	fs.StringVar(&c.kinds, "kinds", "kubo,gridswarm-nokdf,gridswarm,gridswarm-standard", "comma-separated daemons to run: kubo, gridswarm-nokdf (keys sealed at no scrypt cost, as Kubo's), gridswarm, gridswarm-standard; ratios are to the first")
	fs.StringVar(&c.kuboRouting, "kubo-routing", "dht", "Kubo's Routing.Type")
	// Off by default: Kubo v0.38.1's quic-go v0.54 panics under Go 1.26
	// ("crypto/tls bug: where's my session ticket?") on an inbound QUIC handshake.
	fs.BoolVar(&c.kuboQUIC, "kubo-quic", false, "let Kubo listen on QUIC as well as TCP, as gridswarm's local profile does")
	fs.StringVar(&c.work, "work", "", "directory for the throwaway repos (default: a new temporary directory)")
	fs.StringVar(&c.out, "out", "", "write the markdown report here as well as to stdout")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.rounds < 1 || c.unlockRounds < 1 || c.peers < 2 {
		return c, errors.New("-rounds and -unlock-rounds must be at least 1 and -peers at least 2")
	}
	return c, nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench/daemon:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	c, err := parseFlags(args)
	if err != nil {
		return err
	}
	if err := loopbackOnly(); err != nil {
		return err
	}
	if c.work == "" {
		if c.work, err = os.MkdirTemp("", "gridswarm-bench-daemon-"); err != nil {
			return fmt.Errorf("cannot make a work directory: %w", err)
		}
		defer os.RemoveAll(c.work)
	}
	var report strings.Builder
	w := io.MultiWriter(&report, os.Stdout)
	if err := bench(ctx, w, c); err != nil {
		return err
	}
	if c.out != "" {
		if err := os.WriteFile(c.out, []byte(report.String()), 0o644); err != nil {
			return fmt.Errorf("cannot write the report: %w", err)
		}
	}
	return nil
}

// loopbackOnly refuses to run where the network namespace holds anything
// but loopback: Kubo would reach for the internet. A fresh namespace's
// loopback starts down; it brings it up.
func loopbackOnly() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("cannot list network interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("network interface %s is present: run this through bench/daemon/run.sh, which gives it a namespace with only loopback (unshare -n)", i.Name)
		}
		if i.Flags&net.FlagUp == 0 {
			if err := setLinkUp(i.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

func bench(ctx context.Context, w io.Writer, c options) error {
	client := &http.Client{Timeout: 5 * time.Second}
	gs := &gridswarm{bin: c.gridswarm, pass: "bench-passphrase", http: client}
	gsStd := &gridswarm{bin: c.gridswarm, pass: "bench-passphrase", scrypt: scryptStandard, http: client}
	gsFree := &gridswarm{bin: c.gridswarm, pass: "bench-passphrase", scrypt: scryptMinimal, http: client}
	kb := &kubo{bin: c.ipfs, routing: c.kuboRouting, quic: c.kuboQUIC, http: client}
	byName := map[string]kind{"kubo": kb, "gridswarm": gs, "gridswarm-standard": gsStd, "gridswarm-nokdf": gsFree}
	var kinds []kind
	for _, n := range strings.Split(c.kinds, ",") {
		n = strings.TrimSpace(n)
		k, ok := byName[n]
		if !ok {
			return fmt.Errorf("-kinds: unknown daemon %q: use kubo, gridswarm, gridswarm-nokdf or gridswarm-standard", n)
		}
		if n != "gridswarm-standard" || c.standard {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) == 0 {
		return errors.New("-kinds names no daemon to run")
	}
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name()
	}
	bins := map[string]string{
		"gridswarm": c.gridswarm,
		"Kubo":      c.ipfs,
	}
	fmt.Fprintf(w, "### Machine\n\n%s- load average (1, 5, 15 min) at start: %s\n", machine(bins), loadAvg())
	fmt.Fprintf(w, "- Kubo: `init --profile test`, Routing.Type=%s, QUIC listener %v, AutoConf/bootstrap/mDNS/UPnP/telemetry off; gridswarm: `init --profile local`\n- every daemon ran in a network namespace holding only loopback\n\n", c.kuboRouting, c.kuboQUIC)
	for _, mode := range strings.Split(c.modes, ",") {
		var err error
		switch strings.TrimSpace(mode) {
		case "unlock":
			err = benchUnlock(w, c)
		case "ready":
			err = benchReady(ctx, w, c, kinds, names)
		case "memory":
			err = benchMemory(ctx, w, c, kinds, names)
		default:
			err = fmt.Errorf("unknown mode %q: use unlock, ready or memory", mode)
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "Load average at end: %s\n", loadAvg())
	return nil
}

func benchUnlock(w io.Writer, c options) error {
	progress("unlock: timing scrypt, %d rounds per cost", c.unlockRounds)
	profiles := []string{"local", "default"}
	times := make([][]unlockRound, len(profiles))
	for i, p := range profiles {
		t, err := unlockTimes(c.work, p, "bench-passphrase", c.unlockRounds)
		if err != nil {
			return err
		}
		times[i] = t
	}
	fmt.Fprintf(w, "### Key unlock at start (scrypt, in process)\n\n")
	writeUnlock(w, profiles, times)
	fmt.Fprintln(w)
	return nil
}

func benchReady(ctx context.Context, w io.Writer, c options, kinds []kind, names []string) error {
	progress("ready: %d rounds of %s", c.rounds, strings.Join(names, ", "))
	times, err := readyTimes(ctx, c.work, kinds, c.rounds, c.readyTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "### Exec to JSON-RPC ready (fresh repo each round, kinds in turn)\n\n")
	writeReady(w, names, times)
	fmt.Fprintf(w, "\nLoad average after: %s\n\n", loadAvg())
	return nil
}

func benchMemory(ctx context.Context, w io.Writer, c options, kinds []kind, names []string) error {
	res := make([]swarmResult, len(kinds))
	for i, k := range kinds {
		progress("memory: %d %s daemons, %s idle", c.peers, k.name(), c.idle)
		work, err := os.MkdirTemp(c.work, "memory-")
		if err != nil {
			return fmt.Errorf("cannot make a work directory: %w", err)
		}
		if res[i], err = memoryRun(ctx, work, k, c.peers, c.meshTimeout, c.idle, c.readyTimeout); err != nil {
			return err
		}
		_ = os.RemoveAll(work)
	}
	fmt.Fprintf(w, "### Resident memory after %s idle, %d daemons of a kind joined in one swarm\n\n", c.idle, c.peers)
	writeMemory(w, names, res)
	fmt.Fprintf(w, "\nGo runtime of the same daemons (medians, from their Prometheus endpoints):\n\n")
	writeGoRuntime(w, names, res)
	fmt.Fprintf(w, "\nLoad average after: %s\n\n", loadAvg())
	return nil
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
