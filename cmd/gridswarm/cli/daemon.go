package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
)

func newInitCmd(e *env) *cobra.Command {
	var profile, pwFile string
	var boot []string
	cmd := &cobra.Command{
		Use:   "init",
		Args:  noArgs,
		Short: "create a repo: config, libp2p identity, Ethereum account, API token",
		Long: `Creates the repo directory ($GRIDSWARM_PATH, default ~/.gridswarm). Keys are
encrypted with scrypt under a passphrase taken from --password-file, the
GRIDSWARM_PASSWORD variable or a prompt. When the --password-file does not
exist yet, init writes a fresh random passphrase there (mode 0600) for the
daemon to read with the same flag. init never overwrites an existing repo.

The local profile is for several daemons on one machine: loopback only, free
ports, no mDNS, no UPnP/NAT-PMP and no default bootstrap peers.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var pass string
			var created bool
			var err error
			if pwFile != "" {
				pass, created, err = repo.EnsurePassphraseFile(pwFile, rand.Reader)
			} else {
				pass, err = e.passphrase("", true)
			}
			if err != nil {
				return err
			}
			res, err := repo.Init(e.repo, repo.InitOptions{Profile: profile, Passphrase: pass, Bootstrap: boot})
			if err != nil {
				if created {
					// It protects nothing: a later init may make its own.
					_ = os.Remove(pwFile)
				}
				return err
			}
			next := e.cmdline("daemon")
			if pwFile != "" {
				next += " --password-file " + shellQuote(pwFile)
			}
			if e.json {
				return printJSON(e.Out, map[string]any{"repo": e.repo, "peer_id": res.PeerID.String(), "account": res.Account.Hex(), "profile": res.Config.Profile,
					"password_file": pwFile, "password_file_created": created, "next": next})
			}
			fmt.Fprintf(e.Out, "initialised gridswarm repo %s (profile %s)\n  peer ID  %s\n  account  %s\n",
				e.repo, res.Config.Profile, res.PeerID, res.Account.Hex())
			if created {
				fmt.Fprintf(e.Out, "wrote a new random passphrase to %s (mode 0600): keep it, the keys cannot be unlocked without it\n", pwFile)
			}
			fmt.Fprintf(e.Out, "start the daemon with: %s\n", next)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", config.ProfileDefault, "`PROFILE`: default, or local for several daemons on one machine")
	f.StringArrayVar(&boot, "bootstrap", nil, "peer to join first, a `MULTIADDR` such as /ip4/…/tcp/…/p2p/<peer-id> (repeatable)")
	f.StringVar(&pwFile, "password-file", "", "`FILE` holding the key passphrase; created with a random one when missing")
	return cmd
}

func newDaemonCmd(e *env) *cobra.Command {
	var pwFile string
	var boot []string
	cmd := &cobra.Command{
		Use:   "daemon",
		Args:  noArgs,
		Short: "run the node: join the swarm and serve the local JSON-RPC",
		Long: `Runs until SIGINT or SIGTERM. When ready it writes <repo>/api with the
JSON-RPC and swarm addresses; the CLI finds it there. A second daemon on the
same repo is refused. Logs go to stderr (--log-level, --log-format).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			for i, b := range boot {
				if err := config.CheckPeerAddr(b); err != nil {
					return usageError{fmt.Sprintf("--bootstrap[%d]: %v", i, err)}
				}
			}
			r, err := repo.Open(e.repo)
			if err != nil {
				return err
			}
			defer r.Close()
			log, level, err := e.leveledLogger(r.Config.Log.Level, r.Config.Log.Format)
			if err != nil {
				return err
			}
			pass, err := e.passphrase(pwFile, false)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			stopProfile, err := startCPUProfile(e.Getenv)
			if err != nil {
				return err
			}
			defer func() {
				if err := stopProfile(); err != nil {
					log.Warn("cpu profile", "err", err)
				}
			}()
			n, err := node.New(ctx, node.Options{Repo: r, Passphrase: pass, Bootstrap: boot, Logger: log, LogLevel: level, Shutdown: stop})
			if err != nil {
				return err
			}
			ep, _ := repo.ReadEndpoint(e.repo)
			if e.json {
				_ = printJSONLine(e.Out, ep)
			} else {
				fmt.Fprintf(e.Out, "gridswarm daemon ready\n  peer ID  %s\n  API      %s\n  swarm    %s\n", ep.PeerID, ep.HTTP, strings.Join(ep.Swarm, "\n           "))
			}
			<-ctx.Done()
			log.Info("shutting down")
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := n.Close(sctx); err != nil {
				log.Warn("shutdown", "err", err)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&boot, "bootstrap", nil, "peer to join besides those in config, a `MULTIADDR` such as /ip4/…/tcp/…/p2p/<peer-id> (repeatable)")
	f.StringVar(&pwFile, "password-file", "", "`FILE` holding the key passphrase (else $GRIDSWARM_PASSWORD or a prompt)")
	return cmd
}
