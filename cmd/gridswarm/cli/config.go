package cli

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/internal/fsutil"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
)

func newConfigCmd(e *env) *cobra.Command {
	return parentCmd(&cobra.Command{
		Use:   "config",
		Short: "show or change the repo's config.toml (no daemon needed)",
		Long: `Shows or changes the repo's config.toml; no daemon needs to run.

A running daemon reads config.toml when it starts. Only log.level can also be
changed while it runs ('gridswarm log level'); 'set' says when a restart is
needed.`,
	}, newConfigShowCmd(e), newConfigGetCmd(e), newConfigSetCmd(e))
}

func newConfigShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show",
		Args:  noArgs,
		Short: "print the whole config as TOML (--json: as JSON)",
		RunE: func(*cobra.Command, []string) error {
			cfg, _, err := e.loadConfig()
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.Out, cfg)
			}
			b, err := cfg.Marshal()
			if err != nil {
				return err
			}
			_, err = e.Out.Write(b)
			return err
		},
	}
}

func newConfigGetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "get KEY",
		Args:  exactArgs(1),
		Short: "print one value, e.g. log.level, or a whole section, e.g. swarm",
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, _, err := e.loadConfig()
			if err != nil {
				return err
			}
			v, err := cfg.Get(args[0])
			if err != nil {
				return err
			}
			if e.json {
				return printJSON(e.Out, map[string]string{"key": args[0], "value": v})
			}
			fmt.Fprintln(e.Out, v)
			return nil
		},
	}
}

func newConfigSetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "set KEY VALUE",
		Args:  exactArgs(2),
		Short: "change one value, validated, and replace config.toml atomically",
		Long: `Changes one value. VALUE is TOML (8, true, "text", ["a"]); a bare word is a
string. The whole config is validated before the file is replaced,
atomically; a bad value leaves the file as it was.`,
		RunE: func(_ *cobra.Command, args []string) error {
			cfg, path, err := e.loadConfig()
			if err != nil {
				return err
			}
			return configSet(e, path, cfg, args[0], args[1])
		},
	}
}

// loadConfig reads the repo's config.toml and says where it is.
func (e *env) loadConfig() (config.Config, string, error) {
	path := filepath.Join(e.repo, repo.ConfigFile)
	cfg, err := config.Load(path)
	return cfg, path, err
}

func configSet(e *env, path string, cfg config.Config, key, value string) error {
	next, err := cfg.Set(key, value)
	if err != nil {
		return err
	}
	b, err := next.Marshal()
	if err != nil {
		return err
	}
	if err := fsutil.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	v, _ := next.Get(key)
	running := repo.Locked(e.repo)
	if e.json {
		return printJSON(e.Out, map[string]any{"key": key, "value": v, "daemon_running": running, "restart_needed": running && !config.Live(key)})
	}
	fmt.Fprintf(e.Out, "%s = %s\n", key, v)
	if running {
		if config.Live(key) {
			fmt.Fprintf(e.Out, "a daemon is running: 'gridswarm log level' changes its level now; this value applies from its next start\n")
		} else {
			fmt.Fprintf(e.Out, "a daemon is running: restart the daemon for this to take effect\n")
		}
	}
	return nil
}
