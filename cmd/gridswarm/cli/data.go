package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node"
)

func newDataCmd(e *env) *cobra.Command {
	return parentCmd(&cobra.Command{
		Use:   "data",
		Short: "add, fetch and manage content in the data grid",
		Long: `Adds, fetches and manages content in the data grid. Content is UnixFS with
CIDv1 and raw leaves: the same CIDs as 'ipfs add --cid-version=1'.

Fetches give up when no provider is found within 30s (or --timeout), or no
block arrives for --stall (default 1m).`,
	},
		newDataAddCmd(e), newDataGetCmd(e), newDataLsCmd(e), newDataPinCmd(e), newDataUnpinCmd(e),
		newDataPinsCmd(e), newDataGCCmd(e), newDataStatCmd(e), newDataProvidersCmd(e), newDataHoldsCmd(e),
		newDataImportCmd(e))
}

// waitOpts are the --timeout and --stall flags of the commands that fetch.
type waitOpts struct{ timeout, stall time.Duration }

func (w *waitOpts) addTimeout(cmd *cobra.Command, what string) {
	cmd.Flags().DurationVar(&w.timeout, "timeout", 0, "give up after this long, and look this long for a provider (default: "+what+")")
}

func (w *waitOpts) addStall(cmd *cobra.Command) {
	cmd.Flags().DurationVar(&w.stall, "stall", 0, "give up when no block arrives for this long (default 1m)")
}

// check validates the flags as the command cmd was given them.
func (w *waitOpts) check(cmd *cobra.Command) (node.WaitOptions, error) {
	return waitFlags(cmd.Flags().Changed, commandPath(cmd), w.timeout, w.stall)
}

func newDataAddCmd(e *env) *cobra.Command {
	var quiet bool
	cmd := &cobra.Command{
		Use:   "add PATH",
		Args:  exactArgs(1),
		Short: "import a file or folder, pin it and announce it",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, true, func(c *client.Client) error { return dataAdd(ctx, e, c, args[0], quiet) })
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the root CID, for scripts: CID=$(gridswarm data add -q DIR)")
	return cmd
}

func newDataGetCmd(e *env) *cobra.Command {
	var out string
	var w waitOpts
	cmd := &cobra.Command{
		Use:   "get CID -o PATH",
		Args:  exactArgs(1),
		Short: "write the content to PATH, fetching what is missing from the swarm",
		Long: `Writes the content to PATH, fetching what is missing from the swarm. Nothing
is left under PATH if it fails.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			wait, err := w.check(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return e.withClient(ctx, true, func(c *client.Client) error { return dataGet(ctx, e, c, args[0], out, wait) })
		},
	}
	cmd.PreRunE = needOutput(&out, "data get needs -o PATH")
	cmd.Flags().StringVarP(&out, "output", "o", "", "`PATH` to write the file or folder to (required)")
	w.addTimeout(cmd, "30s to find a provider")
	w.addStall(cmd)
	return cmd
}

func newDataLsCmd(e *env) *cobra.Command {
	var w waitOpts
	cmd := &cobra.Command{
		Use:   "ls CID",
		Args:  exactArgs(1),
		Short: "list a folder (fetching its folder node if needed)",
		RunE: func(cmd *cobra.Command, args []string) error {
			wait, err := w.check(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				var es []node.Entry
				cctx, cancel := callDeadline(ctx, wait.TimeoutSeconds, defaultLsTimeout)
				defer cancel()
				if err := c.Call(cctx, &es, "data_ls", args[0], wait); err != nil {
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
			})
		},
	}
	w.addTimeout(cmd, "1m")
	return cmd
}

func newDataPinCmd(e *env) *cobra.Command {
	var name string
	var w waitOpts
	cmd := &cobra.Command{
		Use:   "pin CID",
		Args:  exactArgs(1),
		Short: `pin as owner "user" (fetching what is missing)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			wait, err := w.check(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				cctx, cancel := callDeadline(ctx, wait.TimeoutSeconds, 0)
				defer cancel()
				opts := node.PinOptions{Name: name, TimeoutSeconds: wait.TimeoutSeconds, StallSeconds: wait.StallSeconds}
				if err := c.Call(cctx, nil, "data_pin", args[0], opts); err != nil {
					return err
				}
				return e.done(map[string]any{"cid": args[0], "pinned": true}, "pinned %s", args[0])
			})
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "`NAME` of the pin (default: the CID)")
	w.addTimeout(cmd, "30s to find a provider")
	w.addStall(cmd)
	return cmd
}

func newDataUnpinCmd(e *env) *cobra.Command {
	var owner string
	var all bool
	cmd := &cobra.Command{
		Use:   "unpin CID",
		Args:  exactArgs(1),
		Short: "remove the user's pin (or another owner's, or all)",
		RunE: func(cmd *cobra.Command, args []string) error {
			if all && owner != "" {
				return usageError{"data unpin takes --owner or --all, not both"}
			}
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				if err := c.Call(ctx, nil, "data_unpin", args[0], node.UnpinOptions{Owner: owner, All: all}); err != nil {
					return err
				}
				return e.done(map[string]any{"cid": args[0], "pinned": false}, "unpinned %s", args[0])
			})
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "remove the pin of `OWNER` (default user)")
	cmd.Flags().BoolVar(&all, "all", false, "remove every owner's pin")
	return cmd
}

func newDataPinsCmd(e *env) *cobra.Command {
	var owner string
	cmd := &cobra.Command{
		Use:   "pins",
		Args:  noArgs,
		Short: "list the pins: owner, name, CID, size",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				var ps []node.PinInfo
				if err := c.Call(ctx, &ps, "data_pins", owner); err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, ps)
				}
				return printPins(e.Out, ps)
			})
		},
	}
	cmd.Flags().StringVar(&owner, "owner", "", "list only the pins of `OWNER` and the owners below it")
	return cmd
}

func newDataGCCmd(e *env) *cobra.Command {
	var cache bool
	cmd := &cobra.Command{
		Use:   "gc",
		Args:  noArgs,
		Short: "remove every block that is neither pinned nor cached",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				var r node.GCResult
				if err := c.Call(ctx, &r, "data_gc", cache); err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, r)
				}
				fmt.Fprintf(e.Out, "removed %d blocks, freed %s in %.2fs\n", r.RemovedBlocks, humanBytes(int64(r.FreedBytes)), r.Seconds)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&cache, "cache", false, "also drop cached (fetched, unpinned) data")
	return cmd
}

func newDataStatCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "stat",
		Args:  noArgs,
		Short: "space used, quota, pinned and cached",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
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
			})
		},
	}
}

func newDataProvidersCmd(e *env) *cobra.Command {
	var w waitOpts
	cmd := &cobra.Command{
		Use:   "providers CID",
		Args:  exactArgs(1),
		Short: "peers that announce the CID in the DHT",
		RunE: func(cmd *cobra.Command, args []string) error {
			wait, err := w.check(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				var ps []node.FoundPeer
				cctx, cancel := callDeadline(ctx, wait.TimeoutSeconds, 30*time.Second)
				defer cancel()
				if err := c.Call(cctx, &ps, "data_providers", args[0], nil, wait); err != nil {
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
			})
		},
	}
	w.addTimeout(cmd, "30s")
	return cmd
}

func newDataHoldsCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "holds CID...",
		Short: "how much of each DAG this node stores (scheduler locality)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{"data holds takes one or more CIDs"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				var hs []node.Holding
				if err := c.Call(ctx, &hs, "data_holds", args); err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, hs)
				}
				for _, h := range hs {
					fmt.Fprintf(e.Out, "%s  %s of %s  complete=%v pinned=%v\n", h.CID, humanBytes(int64(h.LocalBytes)), humanBytes(int64(h.TotalBytes)), h.Complete, h.Pinned)
				}
				return nil
			})
		},
	}
}

func newDataImportCmd(e *env) *cobra.Command {
	return parentCmd(&cobra.Command{
		Use:   "import",
		Short: "build a public dataset as safetensors shards and add it",
	}, newDataImportMNISTCmd(e))
}

func newDataImportMNISTCmd(e *env) *cobra.Command {
	var from string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "mnist",
		Args:  noArgs,
		Short: "import MNIST (built into gridswarm) as safetensors shards, pinned",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, true, func(c *client.Client) error { return dataImportMNIST(ctx, e, c, from, quiet) })
		},
	}
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the dataset's CID, for scripts: CID=$(gridswarm data import mnist -q)")
	cmd.Flags().StringVar(&from, "from", "", "`DIR` holding the four MNIST IDX .gz files to use instead of the built-in copy")
	return cmd
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

func dataAdd(ctx context.Context, e *env, c *client.Client, path string, quiet bool) error {
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
	return printAdd(e, r, quiet)
}

func printAdd(e *env, r node.AddResult, quiet bool) error {
	if e.json {
		return printJSON(e.Out, r)
	}
	if quiet {
		_, err := fmt.Fprintln(e.Out, r.CID)
		return err
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
func waitFlags(changed func(string) bool, cmd string, timeout, stall time.Duration) (node.WaitOptions, error) {
	if changed("stall") && stall <= 0 {
		return node.WaitOptions{}, usageError{fmt.Sprintf("%s: --stall %s is not allowed: give how long to wait for the next block, more than 0 (e.g. --stall 30s; the default is %s)", cmd, stall, time.Minute)}
	}
	if changed("timeout") && timeout <= 0 {
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

func dataImportMNIST(ctx context.Context, e *env, c *client.Client, from string, quiet bool) error {
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
	if quiet {
		_, err := fmt.Fprintln(e.Out, r.CID)
		return err
	}
	fmt.Fprintf(e.Out, "imported MNIST as %s (%d shards, %s, pinned)\n", r.CID, len(r.Files)-1, humanBytes(int64(r.Size)))
	return nil
}
