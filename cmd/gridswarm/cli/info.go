package cli

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node"
)

func newIDCmd(e *env) *cobra.Command {
	var addrsOnly bool
	cmd := &cobra.Command{
		Use:   "id",
		Args:  noArgs,
		Short: "show this node's peer ID, account and addresses",
		Long: `Shows this node's peer ID, account and addresses. --addrs prints only the
addresses, one per line, each ending in /p2p/<peer-id>: what another
daemon's --bootstrap or 'peer connect' takes, e.g.
  gridswarm --repo worker init --profile local --bootstrap "$(gridswarm id --addrs | head -n 1)"`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				id, err := c.ID(ctx)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, id)
				}
				if addrsOnly {
					for _, a := range id.Addrs {
						fmt.Fprintln(e.Out, a)
					}
					return nil
				}
				fmt.Fprintf(e.Out, "peer ID  %s\naccount  %s\nagent    %s\naddrs    %s\n", id.PeerID, id.Account, id.Agent, strings.Join(id.Addrs, "\n         "))
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&addrsOnly, "addrs", false, "print only the addresses, one per line")
	return cmd
}

func newStatusCmd(e *env) *cobra.Command {
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Args:  noArgs,
		Short: "show the daemon's state: uptime, peers, DHT",
		Long: `Shows the daemon's state: uptime, peers, DHT. With --wait D it first waits,
up to D, until a daemon runs on the repo and answers, so a script can start
one in the background and go on when it is ready:
  gridswarm daemon --password-file pw > daemon.log 2>&1 &
  gridswarm status --wait 1m`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if cmd.Flags().Changed("wait") && wait <= 0 {
				return usageError{fmt.Sprintf("status: --wait %s is not allowed: give how long to wait, more than 0 (e.g. --wait 1m)", wait)}
			}
			var s node.Status
			status := func() error {
				return e.withClient(ctx, false, func(c *client.Client) (err error) {
					s, err = c.Status(ctx)
					return err
				})
			}
			var err error
			if wait > 0 {
				err = retryUntil(ctx, wait, 100*time.Millisecond, status, func(err error) bool { return !client.IsNotRepo(err) })
			} else {
				err = status()
			}
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.Out, s)
			}
			fmt.Fprintf(e.Out, "gridswarm %s (profile %s), up %s\npeer ID        %s\naccount        %s\npeers          %d connected\nDHT routing    %d peers\nrepo           %s\n",
				s.Version, s.Profile, (time.Duration(s.UptimeSeconds) * time.Second).String(), s.PeerID, s.Account, s.Peers, s.RoutingTableSize, s.Repo)
			if len(s.Quarantined) > 0 {
				fmt.Fprintf(e.Out, "quarantined    %d job state file(s) could not be used and were moved aside:\n", len(s.Quarantined))
				for _, q := range s.Quarantined {
					fmt.Fprintf(e.Out, "  %s\n    job %s, %s: %s\n", q.Path, q.Job, q.Time.Local().Format(time.DateTime), q.Reason)
				}
			}
			return nil
		},
	}
	cmd.Flags().DurationVar(&wait, "wait", 0, "wait up to this long for the daemon to be ready (e.g. 1m)")
	return cmd
}

// retryUntil calls try every interval until it succeeds, it fails with an
// error retry rejects, or wait has passed; then it returns try's last
// error, saying how long it waited.
func retryUntil(ctx context.Context, wait, interval time.Duration, try func() error, retry func(error) bool) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		err := try()
		if err == nil || !retry(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited %s: %w", wait, err)
		case <-tick.C:
		}
	}
}

func newPeersCmd(e *env) *cobra.Command {
	var all, caps bool
	cmd := &cobra.Command{
		Use:   "peers",
		Args:  noArgs,
		Short: "list peers with connection state and measured RTT",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				if caps {
					return printCapabilities(ctx, e, c)
				}
				ps, err := c.Peers(ctx)
				if err != nil {
					return err
				}
				if !all {
					ps = connectedOnly(ps)
				}
				if e.json {
					return printJSON(e.Out, ps)
				}
				if len(ps) == 0 {
					fmt.Fprintln(e.Out, "no peers yet: join a swarm with `gridswarm peer connect <multiaddr>` or --bootstrap")
					return nil
				}
				printPeerTable(e.Out, ps)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "include peers known but not connected")
	cmd.Flags().BoolVar(&caps, "gpu", false, "show what each worker offers: idle, slots, executors, GPUs, throughput, price")
	return cmd
}

func connectedOnly(ps []node.Peer) []node.Peer {
	out := ps[:0:0]
	for _, p := range ps {
		if p.Connected {
			out = append(out, p)
		}
	}
	return out
}

func newPeerCmd(e *env) *cobra.Command {
	return parentCmd(&cobra.Command{
		Use:   "peer",
		Short: "connect to, disconnect from, look up or message peers",
		Long: `Connects to, disconnects from, looks up or messages peers.

PEER-ID is the whole ID, the short form 'gridswarm peers' prints
(12D3KooW…gxwfh3), or a unique start or end of a known peer's ID.`,
	}, newPeerConnectCmd(e), newPeerDisconnectCmd(e), newPeerFindCmd(e), newPeerAnnounceCmd(e))
}

func newPeerConnectCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "connect MULTIADDR",
		Args:  exactArgs(1),
		Short: "dial a peer, e.g. /ip4/127.0.0.1/tcp/4101/p2p/12D3Koo…",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				r, err := c.Connect(ctx, args[0])
				if err != nil {
					return err
				}
				return e.done(r, "connected to %s", r.PeerID)
			})
		},
	}
}

func newPeerDisconnectCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "disconnect PEER-ID",
		Args:  exactArgs(1),
		Short: "close every connection to the peer",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				id, err := resolvePeerArg(ctx, c, args[0])
				if err != nil {
					return err
				}
				if err := c.Disconnect(ctx, id); err != nil {
					return err
				}
				return e.done(map[string]any{"peer_id": id, "connected": false}, "disconnected from %s", id)
			})
		},
	}
}

func newPeerFindCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "find PEER-ID",
		Args:  exactArgs(1),
		Short: "look the peer's addresses up in the DHT",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				id, err := resolvePeerArg(ctx, c, args[0])
				if err != nil {
					return err
				}
				r, err := c.FindPeer(ctx, id)
				if err != nil {
					return err
				}
				return e.done(r, "%s\n  %s", r.ID, strings.Join(r.Addrs, "\n  "))
			})
		},
	}
}

func newPeerAnnounceCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "announce TEXT",
		Args:  exactArgs(1),
		Short: "gossip a short notice to every swarm member",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				if err := c.Announce(ctx, args[0]); err != nil {
					return err
				}
				return e.done(map[string]any{"announced": args[0]}, "announced")
			})
		},
	}
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Args:  noArgs,
		Short: "print the CLI's version and, when one runs, the daemon's",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			local := node.VersionInfo{Version: node.Version, Protocol: node.ProtocolVersion, Go: runtime.Version(), Agent: node.UserAgent()}
			var daemon *node.VersionInfo
			c, dialErr := e.dial(ctx)
			if dialErr == nil {
				defer c.Close()
				if v, err := c.Version(ctx); err == nil {
					daemon = &v
				}
			}
			if e.json {
				return printJSON(e.Out, map[string]any{"cli": local, "daemon": daemon})
			}
			fmt.Fprintf(e.Out, "gridswarm %s (%s, %s)\n", local.Version, local.Protocol, local.Go)
			if daemon != nil {
				fmt.Fprintf(e.Out, "daemon    %s (%s)\n", daemon.Version, daemon.Agent)
			} else if client.IsNotRepo(dialErr) {
				fmt.Fprintf(e.Out, "daemon    not running (%s is not a gridswarm repo: create one with `%s`)\n", e.repo, e.cmdline("init"))
			} else {
				fmt.Fprintln(e.Out, "daemon    not running")
			}
			return nil
		},
	}
}
