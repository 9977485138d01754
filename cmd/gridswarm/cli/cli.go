package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gridswarm/gridswarm/client"
	"github.com/gridswarm/gridswarm/node/repo"
)

// commands are gridswarm's top-level commands. A new command is a
// constructor newXxxCmd(e) in its own file and one line here; help lists
// them sorted by name.
func commands(e *env) []*cobra.Command {
	return []*cobra.Command{
		newInitCmd(e),
		newDaemonCmd(e),
		newIDCmd(e),
		newStatusCmd(e),
		newPeersCmd(e),
		newPeerCmd(e),
		newDataCmd(e),
		newSubmitCmd(e),
		newJobsCmd(e),
		newJobCmd(e),
		newWorkerCmd(e),
		newTaskletCmd(e),
		newVersionCmd(e),
		newDemoCmd(e),
		newConfigCmd(e),
		newShutdownCmd(e),
		newLogCmd(e),
		newVerifyCmd(e),
		newDashboardCmd(e),
		newWalletCmd(e),
	}
}

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

// env is what every command receives: the streams and the global flags.
type env struct {
	IO
	repo      string
	repoVia   repoSource // how repo was chosen, for the hints we print
	logLevel  string
	logFormat string
	json      bool
	// started is set once the command line parsed and a command's own
	// code runs: an error before that is a usage error (exit 2).
	started bool
}

// usageError marks errors that should be followed by the command's usage
// and exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// errNoCommand is bare `gridswarm`: help goes to stderr and the exit code
// is 2, as for any other command line that asks for nothing runnable.
var errNoCommand = errors.New("no command given")

// Run executes the CLI and returns the process exit code: 0 ok, 1 the
// command failed, 2 the command line was wrong.
func Run(ctx context.Context, args []string, stdio IO) int {
	e := &env{IO: stdio}
	root := newRootCmd(e)
	if args == nil {
		args = []string{} // nil would make cobra read os.Args
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	return e.report(cmd, err)
}

// report prints err, which cmd returned, and returns the exit code.
func (e *env) report(cmd *cobra.Command, err error) int {
	path := commandPath(cmd)
	var ue usageError
	switch {
	case errors.Is(err, errNoCommand):
		cmd.SetOut(e.Err)
		_ = cmd.Help()
		return 2
	case !e.started || errors.As(err, &ue):
		fmt.Fprintf(e.Err, "%s\n\n%s", errorLine(path, err), cmd.UsageString())
		return 2
	case client.IsNotRepo(err) || errors.Is(err, repo.ErrNotInitialised):
		fmt.Fprintf(e.Err, "%s: %s is not a gridswarm repo: create one with `%s`\n", cmd.CommandPath(), e.repo, e.cmdline("init"))
	case client.IsNoDaemon(err):
		fmt.Fprintf(e.Err, "no gridswarm daemon is running for %s: start one with `%s`\n", e.repo, e.cmdline("daemon"))
	default:
		fmt.Fprintln(e.Err, errorLine(path, err))
	}
	return 1
}

const rootLong = `gridswarm: a peer-to-peer grid for training ML models on idle GPUs.

Get started:
  gridswarm init                 create ~/.gridswarm (keys, config, API token)
  gridswarm daemon               join the swarm and serve the local JSON-RPC
  gridswarm peers                see who you are connected to
  gridswarm demo                 train MNIST on a throw-away local swarm of 5 daemons

The repo is --repo DIR, else $GRIDSWARM_PATH, else ~/.gridswarm.
Exit codes: 0 ok, 1 the command failed, 2 the command line was wrong.
Shell completion: gridswarm completion bash|zsh|fish|powershell --help.`

// usageTemplate is cobra's, except that a command with subcommands shows
// only "gridswarm data <command>": run alone it is a usage error.
const usageTemplate = `Usage:{{if and .Runnable (not .HasAvailableSubCommands)}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}}{{if .HasAvailableFlags}} [flags]{{end}} <command>{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Commands:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableSubCommands}}

Run '{{.CommandPath}} <command> --help' for a command's help and flags.{{end}}
`

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "gridswarm",
		Short: "a peer-to-peer grid for training ML models on idle GPUs",
		Long:  rootLong,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			return usageError{fmt.Sprintf("unknown command %q; run 'gridswarm help' for the list%s", args[0], suggest(cmd, args[0]))}
		},
		RunE: func(*cobra.Command, []string) error { return errNoCommand },
		PersistentPreRunE: func(*cobra.Command, []string) error {
			// Commands define no PersistentPreRun of their own, so this
			// runs for every one of them, after their arguments parsed.
			e.started = true
			e.resolveRepo()
			return nil
		},
		SilenceErrors:              true,
		SilenceUsage:               true,
		SuggestionsMinimumDistance: 2,
	}
	root.SetIn(e.In)
	root.SetOut(e.Out)
	root.SetErr(e.Err)
	root.SetUsageTemplate(usageTemplate)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err.Error()} })
	pf := root.PersistentFlags()
	pf.StringVar(&e.repo, "repo", "", "repo `DIR` (default $GRIDSWARM_PATH, else ~/.gridswarm)")
	pf.StringVar(&e.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn or error (default from config.toml)")
	pf.StringVar(&e.logFormat, "log-format", "", "log `FORMAT`: text or json (default from config.toml)")
	pf.BoolVar(&e.json, "json", false, "print machine-readable JSON instead of text")
	root.AddCommand(commands(e)...)
	root.SetHelpCommand(newHelpCmd())
	// Added now rather than on the first Execute, so that every command
	// is in the tree that help and the tests walk.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	if c, _, err := root.Find([]string{"completion"}); err == nil && c != root {
		c.Short = "print a shell completion script: bash, zsh, fish or powershell"
		c.Args = nil
		parentCmd(c)
	}
	return root
}

// newHelpCmd replaces cobra's help command, which exits 0 and prints the
// root's usage to stdout for a topic it does not know.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]...",
		Short: "show a command's help and flags",
		Long:  "Prints the help of the command named, e.g. 'gridswarm help data get', or gridswarm's own.",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usageError{fmt.Sprintf("unknown help topic %q; run 'gridswarm help' for the commands", strings.Join(args, " "))}
			}
			target.InitDefaultHelpFlag() // as CMD --help shows it
			return target.Help()
		},
	}
}

// parentCmd is a command that groups subcommands. Run alone or with an
// unknown subcommand it fails as a usage error (exit 2) instead of
// printing help with exit 0 as cobra would.
func parentCmd(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	cmd.SuggestionsMinimumDistance = 2
	cmd.RunE = func(c *cobra.Command, args []string) error {
		var names []string
		for _, s := range c.Commands() {
			names = append(names, s.Name())
		}
		if len(args) == 0 {
			return usageError{fmt.Sprintf("%s needs a subcommand: %s", commandPath(c), strings.Join(names, ", "))}
		}
		return usageError{fmt.Sprintf("unknown subcommand %q: use %s%s", args[0], strings.Join(names, ", "), suggest(c, args[0]))}
	}
	return cmd
}

// suggest is "; did you mean X?" when typo is close to exactly one of
// c's subcommands; several guesses would not help.
func suggest(c *cobra.Command, typo string) string {
	if s := c.SuggestionsFor(typo); len(s) == 1 {
		return fmt.Sprintf("; did you mean %s?", s[0])
	}
	return ""
}

// exactArgs accepts exactly n arguments.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Sprintf("%s takes %d argument(s), got %d", commandPath(cmd), n, len(args))}
		}
		return nil
	}
}

// rangeArgs accepts from lo to hi arguments.
func rangeArgs(lo, hi int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usageError{fmt.Sprintf("%s takes %d to %d argument(s), got %d", commandPath(cmd), lo, hi, len(args))}
		}
		return nil
	}
}

// noArgs accepts no arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", commandPath(cmd), args[0])}
	}
	return nil
}

// commandPath is the command as a user typed it, without "gridswarm":
// "data add"; "" for gridswarm itself.
func commandPath(cmd *cobra.Command) string {
	p := cmd.CommandPath()
	if r := cmd.Root(); r != nil {
		p = strings.TrimPrefix(strings.TrimPrefix(p, r.Name()), " ")
	}
	return p
}

// resolveRepo picks the repo: --repo, then $GRIDSWARM_PATH, then
// ~/.gridswarm.
func (e *env) resolveRepo() {
	if e.repo != "" {
		e.repoVia = repoFromFlag
	} else if p := e.Getenv("GRIDSWARM_PATH"); p != "" {
		e.repo, e.repoVia = p, repoFromEnv
	} else if p, err := repo.DefaultPath(); err == nil {
		e.repo = p
	}
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

// withClient runs f with a client of the repo's daemon; ws opens the
// WebSocket that progress and subscriptions need.
func (e *env) withClient(ctx context.Context, ws bool, f func(*client.Client) error) error {
	c, err := client.Dial(ctx, e.repo, ws)
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}
