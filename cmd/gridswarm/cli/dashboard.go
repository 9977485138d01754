package cli

import (
	"context"
	"fmt"
	"os/exec"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/client"
)

func newDashboardCmd(e *env) *cobra.Command {
	var onlyURL bool
	cmd := &cobra.Command{
		Use:   "dashboard",
		Args:  noArgs,
		Short: "open the daemon's web dashboard in a browser, logged in",
		Long: `Asks the daemon for a one-time login link (node_dashboardLogin) and opens it
in the browser ($BROWSER, else xdg-open or open). The link works once, for two
minutes: the daemon exchanges it for an HttpOnly session cookie and redirects
to the dashboard, so the token does not stay in the address bar.
--url only prints the link, for a browser on this machine you start yourself.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			var li api.LoginInfo
			if err := e.withClient(ctx, false, func(c *client.Client) error {
				return c.Call(ctx, &li, "node_dashboardLogin")
			}); err != nil {
				return err
			}
			if onlyURL || e.json {
				return e.done(li, "%s", li.URL)
			}
			if err := openBrowser(ctx, e.Getenv("BROWSER"), li.URL); err != nil {
				fmt.Fprintf(e.Err, "cannot open a browser (%v); open this one-time link within %s:\n", err, time.Until(li.Expires).Round(time.Second))
				fmt.Fprintln(e.Out, li.URL)
				return nil
			}
			fmt.Fprintf(e.Out, "opened the dashboard in your browser (%s)\n", li.Dashboard)
			return nil
		},
	}
	cmd.Flags().BoolVar(&onlyURL, "url", false, "print the one-time login URL instead of opening a browser")
	return cmd
}

// openBrowser starts a browser on url. xdg-open and open hand the URL over
// and exit at once; a $BROWSER that runs in the foreground is left running
// after a few seconds (never killed), and the CLI exits.
func openBrowser(ctx context.Context, browser, url string) error {
	var name string
	var args []string
	switch {
	case browser != "":
		name = browser
	case runtime.GOOS == "darwin":
		name = "open"
	case runtime.GOOS == "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	default:
		name = "xdg-open"
	}
	if _, err := exec.LookPath(name); err != nil {
		return fmt.Errorf("%s not found", name)
	}
	cmd := exec.Command(name, append(args, url)...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }() // ends with the opener, or with this process
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	case <-time.After(3 * time.Second):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
