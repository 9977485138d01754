package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node/repo"
)

func shutdownCommand() command {
	var timeout time.Duration
	return command{
		name:  "shutdown",
		short: "stop the running daemon cleanly and wait until it has exited",
		long: `Asks the daemon over JSON-RPC (node_shutdown) to stop as SIGTERM would,
then waits until it has released the repo lock, or --timeout passes.`,
		flags: func(fs *flag.FlagSet) {
			fs.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the daemon to exit")
		},
		run: func(ctx context.Context, e *env, _ *flag.FlagSet, args []string) error {
			if len(args) != 0 {
				return usageError{"takes no arguments"}
			}
			if err := withClient(ctx, e, func(c *client.Client) error {
				return c.Call(ctx, nil, "node_shutdown")
			}); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for repo.Locked(e.repo) {
				select {
				case <-ctx.Done():
					return fmt.Errorf("daemon asked to stop but still running after %s: %w", timeout, ctx.Err())
				case <-tick.C:
				}
			}
			fmt.Fprintln(e.Out, "daemon stopped")
			return nil
		},
	}
}

func logCommand() command {
	return command{
		name:  "log",
		args:  "level [LEVEL]",
		short: "show or change the running daemon's log level",
		long: `  level          print the daemon's log level
  level LEVEL    set it to debug, info, warn or error until the daemon stops
                 (to keep it, also run 'gridswarm config set log.level LEVEL')`,
		run: func(ctx context.Context, e *env, _ *flag.FlagSet, args []string) error {
			if len(args) < 1 || len(args) > 2 || args[0] != "level" {
				return usageError{"want level [LEVEL]"}
			}
			return withClient(ctx, e, func(c *client.Client) error {
				var level string
				var err error
				if len(args) == 2 {
					err = c.Call(ctx, &level, "node_setLogLevel", args[1])
				} else {
					err = c.Call(ctx, &level, "node_logLevel")
				}
				if err != nil {
					return err
				}
				fmt.Fprintln(e.Out, level)
				return nil
			})
		},
	}
}
