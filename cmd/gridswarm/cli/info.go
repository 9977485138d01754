package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node"
)

func idCommand() command {
	return command{
		name:  "id",
		short: "show this node's peer ID, account and addresses",
		run: func(ctx context.Context, e *env, _ *flag.FlagSet, _ []string) error {
			return withClient(ctx, e, func(c *client.Client) error {
				id, err := c.ID(ctx)
				if err != nil {
					return err
				}
				if e.json {
					return printJSON(e.Out, id)
				}
				fmt.Fprintf(e.Out, "peer ID  %s\naccount  %s\nagent    %s\naddrs    %s\n", id.PeerID, id.Account, id.Agent, strings.Join(id.Addrs, "\n         "))
				return nil
			})
		},
	}
}

func statusCommand() command {
	return command{
		name:  "status",
		short: "show the daemon's state: uptime, peers, DHT",
		run: func(ctx context.Context, e *env, _ *flag.FlagSet, _ []string) error {
			return withClient(ctx, e, func(c *client.Client) error {
				s, err := c.Status(ctx)
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
			})
		},
	}
}

func peersCommand() command {
	var all, caps bool
	return command{
		name:  "peers",
		short: "list peers with connection state and measured RTT",
		flags: func(fs *flag.FlagSet) {
			fs.BoolVar(&all, "all", false, "include peers known but not connected")
			fs.BoolVar(&caps, "gpu", false, "show what each worker offers: idle, slots, executors, GPUs, throughput, price")
		},
		run: func(ctx context.Context, e *env, _ *flag.FlagSet, _ []string) error {
			return withClient(ctx, e, func(c *client.Client) error {
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

func peerCommand() command {
	return command{
		name:  "peer",
		args:  "connect MULTIADDR | disconnect PEER-ID | find PEER-ID | announce TEXT",
		short: "connect to, disconnect from, look up or message peers",
		long: `  connect MULTIADDR   dial a peer, e.g. /ip4/127.0.0.1/tcp/4101/p2p/12D3Koo…
  disconnect PEER-ID  close every connection to the peer
  find PEER-ID        look the peer's addresses up in the DHT
  announce TEXT       gossip a short notice to every swarm member

PEER-ID is the whole ID, the short form 'gridswarm peers' prints
(12D3KooW…gxwfh3), or a unique start or end of a known peer's ID.`,
		run: func(ctx context.Context, e *env, _ *flag.FlagSet, args []string) error {
			if len(args) != 2 {
				return usageError{"want a subcommand and one argument"}
			}
			return withClient(ctx, e, func(c *client.Client) error {
				switch args[0] {
				case "connect":
					r, err := c.Connect(ctx, args[1])
					if err != nil {
						return err
					}
					if e.json {
						return printJSON(e.Out, r)
					}
					fmt.Fprintf(e.Out, "connected to %s\n", r.PeerID)
				case "disconnect":
					id, err := resolvePeerArg(ctx, c, args[1])
					if err != nil {
						return err
					}
					if err := c.Disconnect(ctx, id); err != nil {
						return err
					}
					fmt.Fprintf(e.Out, "disconnected from %s\n", id)
				case "find":
					id, err := resolvePeerArg(ctx, c, args[1])
					if err != nil {
						return err
					}
					r, err := c.FindPeer(ctx, id)
					if err != nil {
						return err
					}
					if e.json {
						return printJSON(e.Out, r)
					}
					fmt.Fprintf(e.Out, "%s\n  %s\n", r.ID, strings.Join(r.Addrs, "\n  "))
				case "announce":
					if err := c.Announce(ctx, args[1]); err != nil {
						return err
					}
					fmt.Fprintln(e.Out, "announced")
				default:
					return usageError{fmt.Sprintf("unknown subcommand %q", args[0])}
				}
				return nil
			})
		},
	}
}

func versionCommand() command {
	return command{
		name:  "version",
		short: "print the CLI's version and, when one runs, the daemon's",
		run: func(ctx context.Context, e *env, _ *flag.FlagSet, _ []string) error {
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

func withClient(ctx context.Context, e *env, f func(*client.Client) error) error {
	c, err := e.dial(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}
