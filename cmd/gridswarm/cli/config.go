package cli

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/gridswarm/gridswarm/internal/fsutil"
	"github.com/gridswarm/gridswarm/node/config"
	"github.com/gridswarm/gridswarm/node/repo"
)

func configCommand() command {
	return command{
		name:  "config",
		args:  "show | get KEY | set KEY VALUE",
		short: "show or change the repo's config.toml (no daemon needed)",
		long: `  show            print the whole config as TOML
  get KEY         print one value, e.g. log.level, or a whole section, e.g. swarm
  set KEY VALUE   change one value; VALUE is TOML (8, true, "text", ["a"]), a bare
                  word is a string. The whole config is validated before the file
                  is replaced, atomically; a bad value leaves the file as it was.

A running daemon reads config.toml when it starts. Only log.level can also be
changed while it runs ('gridswarm log level'); 'set' says when a restart is
needed.`,
		run: func(ctx context.Context, e *env, _ *flag.FlagSet, args []string) error {
			if len(args) == 0 {
				return usageError{"want show, get KEY or set KEY VALUE"}
			}
			path := filepath.Join(e.repo, repo.ConfigFile)
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			switch {
			case args[0] == "show" && len(args) == 1:
				if e.json {
					return printJSON(e.Out, cfg)
				}
				b, err := cfg.Marshal()
				if err != nil {
					return err
				}
				_, err = e.Out.Write(b)
				return err
			case args[0] == "get" && len(args) == 2:
				v, err := cfg.Get(args[1])
				if err != nil {
					return err
				}
				fmt.Fprintln(e.Out, v)
				return nil
			case args[0] == "set" && len(args) == 3:
				return configSet(e, path, cfg, args[1], args[2])
			}
			return usageError{"want show, get KEY or set KEY VALUE"}
		},
	}
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
	fmt.Fprintf(e.Out, "%s = %s\n", key, v)
	if repo.Locked(e.repo) {
		if config.Live(key) {
			fmt.Fprintf(e.Out, "a daemon is running: 'gridswarm log level' changes its level now; this value applies from its next start\n")
		} else {
			fmt.Fprintf(e.Out, "a daemon is running: restart the daemon for this to take effect\n")
		}
	}
	return nil
}
