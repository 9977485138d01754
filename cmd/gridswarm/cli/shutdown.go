package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node/repo"
)

func newShutdownCmd(e *env) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "shutdown",
		Args:  noArgs,
		Short: "stop the running daemon cleanly and wait until it has exited",
		Long: `Asks the daemon over JSON-RPC (node_shutdown) to stop as SIGTERM would,
then waits until it has released the repo lock, or --timeout passes.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if err := e.withClient(ctx, false, func(c *client.Client) error {
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
			return e.done(map[string]bool{"stopped": true}, "daemon stopped")
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for the daemon to exit")
	return cmd
}

func newLogCmd(e *env) *cobra.Command {
	return parentCmd(&cobra.Command{
		Use:   "log",
		Short: "show or change the running daemon's log level",
	}, newLogLevelCmd(e))
}

func newLogLevelCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "level [LEVEL]",
		Args:  rangeArgs(0, 1),
		Short: "print the daemon's log level, or set it to debug, info, warn or error",
		Long: `Prints the running daemon's log level, or sets it to debug, info, warn or
error until the daemon stops (to keep it, also run
'gridswarm config set log.level LEVEL').`,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return e.withClient(ctx, false, func(c *client.Client) error {
				var level string
				var err error
				if len(args) == 1 {
					err = c.Call(ctx, &level, "node_setLogLevel", args[0])
				} else {
					err = c.Call(ctx, &level, "node_logLevel")
				}
				if err != nil {
					return err
				}
				return e.done(map[string]string{"level": level}, "%s", level)
			})
		},
	}
}
