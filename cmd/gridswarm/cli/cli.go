package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node/repo"
)

// IO is where a command reads and writes.
type IO struct {
	In       io.Reader
	Out, Err io.Writer
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string
}

// Stdio is the process's own streams and environment.
func Stdio() IO {
	return IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Getenv: os.Getenv}
}

// env is what every command receives.
type env struct {
	IO
	repo      string
	repoVia   repoSource // how repo was chosen, for the hints we print
	logLevel  string
	logFormat string
	json      bool
}

type command struct {
	name  string
	args  string
	short string
	long  string
	run   func(ctx context.Context, e *env, fs *flag.FlagSet, args []string) error
	flags func(fs *flag.FlagSet)
}

func commands() []command {
	return []command{
		initCommand(),
		daemonCommand(),
		idCommand(),
		statusCommand(),
		peersCommand(),
		peerCommand(),
		dataCommand(),
		submitCommand(),
		jobsCommand(),
		jobCommand(),
		workerCommand(),
		taskletCommand(),
		versionCommand(),
		demoCommand(),
		configCommand(),
		shutdownCommand(),
		logCommand(),
		dashboardCommand(),
	}
}

// usageError marks errors that should be followed by the command's usage.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// Run executes the CLI and returns the process exit code.
func Run(ctx context.Context, args []string, stdio IO) int {
	e := &env{IO: stdio}
	global := flag.NewFlagSet("gridswarm", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	global.StringVar(&e.repo, "repo", "", "repo directory (default $GRIDSWARM_PATH or ~/.gridswarm)")
	global.StringVar(&e.logLevel, "log-level", "", "debug, info, warn or error (default from config.toml)")
	global.StringVar(&e.logFormat, "log-format", "", "text or json (default from config.toml)")
	global.BoolVar(&e.json, "json", false, "print machine-readable JSON")
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(e.Out)
			return 0
		}
		fmt.Fprintf(e.Err, "gridswarm: %v\n\n", err)
		printHelp(e.Err)
		return 2
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" {
		if len(rest) > 1 {
			if c, ok := findCommand(rest[1]); ok {
				printCommandHelp(e.Out, c)
				return 0
			}
		}
		printHelp(e.Out)
		return 0
	}
	c, ok := findCommand(rest[0])
	if !ok {
		fmt.Fprintf(e.Err, "gridswarm: unknown command %q; run `gridswarm help` for the list\n", rest[0])
		return 2
	}
	if e.repo != "" {
		e.repoVia = repoFromFlag
	} else if p := e.Getenv("GRIDSWARM_PATH"); p != "" {
		e.repo, e.repoVia = p, repoFromEnv
	} else if p, err := repo.DefaultPath(); err == nil {
		e.repo = p
	}
	fs := flag.NewFlagSet("gridswarm "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.BoolVar(&e.json, "json", e.json, "print machine-readable JSON")
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(e.Out, c)
			return 0
		}
		fmt.Fprintf(e.Err, "gridswarm %s: %v\n\n", c.name, err)
		printCommandHelp(e.Err, c)
		return 2
	}
	if err := c.run(ctx, e, fs, fs.Args()); err != nil {
		var ue usageError
		switch {
		case errors.As(err, &ue):
			fmt.Fprintf(e.Err, "%s\n\n", errorLine(commandPath(c, fs.Args()), err))
			printCommandHelp(e.Err, c)
			return 2
		case client.IsNotRepo(err) || errors.Is(err, repo.ErrNotInitialised):
			fmt.Fprintf(e.Err, "gridswarm %s: %s is not a gridswarm repo: create one with `%s`\n", c.name, e.repo, e.cmdline("init"))
		case client.IsNoDaemon(err):
			fmt.Fprintf(e.Err, "no gridswarm daemon is running for %s: start one with `%s`\n", e.repo, e.cmdline("daemon"))
		default:
			fmt.Fprintln(e.Err, errorLine(commandPath(c, fs.Args()), err))
		}
		return 1
	}
	return 0
}

// repoSource says how the repo folder was chosen.
type repoSource int

const (
	repoDefault  repoSource = iota // ~/.gridswarm
	repoFromFlag                   // --repo DIR
	repoFromEnv                    // $GRIDSWARM_PATH
)

// cmdline is the command a user types to run sub on the same repo as
// this invocation, e.g. "gridswarm --repo /tmp/a daemon".
func (e *env) cmdline(sub string) string {
	switch e.repoVia {
	case repoFromFlag:
		return "gridswarm --repo " + shellQuote(e.repo) + " " + sub
	case repoFromEnv:
		return "GRIDSWARM_PATH=" + shellQuote(e.repo) + " gridswarm " + sub
	}
	return "gridswarm " + sub
}

// shellQuote quotes s for a POSIX shell when it holds anything beyond the
// characters that are safe bare.
func shellQuote(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%=", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func printHelp(w io.Writer) {
	fmt.Fprint(w, `gridswarm: a peer-to-peer grid for training ML models on idle GPUs.

Usage:
  gridswarm [--repo DIR] [--log-level L] [--log-format F] [--json] <command> [flags] [args]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprint(w, `
Get started:
  gridswarm init                 create ~/.gridswarm (keys, config, API token)
  gridswarm daemon               join the swarm and serve the local JSON-RPC
  gridswarm peers                see who you are connected to
  gridswarm demo                 train MNIST on a throw-away local swarm of 5 daemons

Run 'gridswarm help <command>' or 'gridswarm <command> --help' for details.
The repo is $GRIDSWARM_PATH, or ~/.gridswarm when unset.
`)
}

func printCommandHelp(w io.Writer, c command) {
	fmt.Fprintf(w, "Usage: gridswarm %s %s\n\n%s\n", c.name, c.args, c.short)
	if c.long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.long))
	}
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.Bool("json", false, "print machine-readable JSON")
	if c.flags != nil {
		c.flags(fs)
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// logger builds the daemon's slog logger; flags win over config.
func (e *env) logger(level, format string) (*slog.Logger, error) {
	log, _, err := e.leveledLogger(level, format)
	return log, err
}

// leveledLogger is logger with its level in a LevelVar that can be changed
// while it runs (gridswarm log level).
func (e *env) leveledLogger(level, format string) (*slog.Logger, *slog.LevelVar, error) {
	if e.logLevel != "" {
		level = e.logLevel
	}
	if e.logFormat != "" {
		format = e.logFormat
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, usageError{fmt.Sprintf("--log-level %q: use debug, info, warn or error", level)}
	}
	v := new(slog.LevelVar)
	v.Set(lv)
	opts := &slog.HandlerOptions{Level: v}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(e.Err, opts)), v, nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.Err, opts)), v, nil
	}
	return nil, nil, usageError{fmt.Sprintf("--log-format %q: use text or json", format)}
}

func (e *env) dial(ctx context.Context) (*client.Client, error) {
	return client.Dial(ctx, e.repo, false)
}
