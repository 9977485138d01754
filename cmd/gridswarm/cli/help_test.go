package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// run runs the CLI in-process with no environment and returns what it
// printed and its exit code.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	io := IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(string) string { return "" }}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code = Run(ctx, args, io)
	return out.String(), errb.String(), code
}

// walk calls f with the words that name every command below root that a
// user can see, depth first.
func walk(root *cobra.Command, f func(path []string, c *cobra.Command)) {
	var rec func(path []string, c *cobra.Command)
	rec = func(path []string, c *cobra.Command) {
		f(path, c)
		for _, s := range c.Commands() {
			if s.Hidden {
				continue
			}
			rec(append(path[:len(path):len(path)], s.Name()), s)
		}
	}
	rec(nil, root)
}

// flagNames is every visible flag of c as it is typed: "--repo", "-o".
func flagNames(c *cobra.Command) []string {
	var names []string
	add := func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		names = append(names, "--"+f.Name)
		if f.Shorthand != "" {
			names = append(names, "-"+f.Shorthand)
		}
	}
	c.LocalFlags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	return names
}

// Every command and subcommand prints its help, with every flag it takes
// and the global ones, to stdout with exit 0, both as CMD --help and as
// help CMD.
func TestEveryCommandHelpListsItsFlags(t *testing.T) {
	root := newRootCmd(&env{IO: IO{Getenv: func(string) string { return "" }}})
	n := 0
	walk(root, func(path []string, c *cobra.Command) {
		n++
		name := "gridswarm " + strings.Join(path, " ")
		if c.Short == "" {
			t.Errorf("%s has no short description", name)
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Usage == "" {
				t.Errorf("%s: flag --%s has no help", name, f.Name)
			}
		})
		out, errOut, code := run(t, append(path, "--help")...)
		if code != 0 || errOut != "" {
			t.Errorf("%s --help: exit %d, stderr %q; want 0 and nothing on stderr", name, code, errOut)
		}
		if !strings.Contains(out, "Usage:\n  "+strings.TrimSpace(name)) {
			t.Errorf("%s --help lacks its usage line:\n%s", name, out)
		}
		for _, f := range flagNames(c) {
			if !strings.Contains(out, f+" ") && !strings.Contains(out, f+",") {
				t.Errorf("%s --help does not list %s:\n%s", name, f, out)
			}
		}
		if !strings.Contains(out, "--json") || !strings.Contains(out, "--repo DIR") {
			t.Errorf("%s --help does not list the global flags:\n%s", name, out)
		}
		hout, herr, hcode := run(t, append([]string{"help"}, path...)...)
		if hcode != 0 || herr != "" || hout != out {
			t.Errorf("gridswarm help %s: exit %d, stderr %q, and its output differs from --help's:\n%s", strings.Join(path, " "), hcode, herr, hout)
		}
	})
	if n < 40 {
		t.Errorf("walked %d commands; the tree has lost some", n)
	}
}

// A command line that is wrong fails with exit 2, one line saying what was
// wrong, and the usage of the command it got as far as, on stderr only.
func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args      []string
		wantLine  string
		wantUsage string
	}{
		{nil, "gridswarm: a peer-to-peer grid", "Usage:\n  gridswarm [flags] <command>"},
		{[]string{"frobnicate"}, `gridswarm: unknown command "frobnicate"; run 'gridswarm help' for the list`, "Usage:\n  gridswarm [flags] <command>"},
		{[]string{"statsu"}, `gridswarm: unknown command "statsu"; run 'gridswarm help' for the list; did you mean status?`, "Usage:\n  gridswarm [flags] <command>"},
		{[]string{"--frobnicate", "status"}, "gridswarm: unknown flag: --frobnicate", "Usage:\n  gridswarm [flags] <command>"},
		{[]string{"status", "--frobnicate"}, "gridswarm status: unknown flag: --frobnicate", "Usage:\n  gridswarm status [flags]"},
		{[]string{"data", "get", "bafy", "-o", "x", "--stall"}, "gridswarm data get: flag needs an argument: --stall", "Usage:\n  gridswarm data get CID -o PATH [flags]"},
		{[]string{"data"}, "gridswarm data needs a subcommand: add, gc, get, holds, import, ls, pin, pins, providers, stat, unpin", "Usage:\n  gridswarm data [flags] <command>"},
		{[]string{"data", "frobnicate"}, `gridswarm data: unknown subcommand "frobnicate": use add,`, "Usage:\n  gridswarm data [flags] <command>"},
		{[]string{"job", "shwo", "abc"}, `gridswarm job: unknown subcommand "shwo": use cancel, model, plot, resume, rm, show, tasklet, watch; did you mean show?`, "Usage:\n  gridswarm job [flags] <command>"},
		{[]string{"data", "add"}, "gridswarm data add takes 1 argument(s), got 0", "Usage:\n  gridswarm data add PATH [flags]"},
		{[]string{"data", "get", "bafy"}, "gridswarm data get needs -o PATH", "Usage:\n  gridswarm data get CID -o PATH [flags]"},
		{[]string{"data", "ls", "bafy", "--timeout", "0s"}, "gridswarm data ls: --timeout 0s is not allowed", "Usage:\n  gridswarm data ls CID [flags]"},
		{[]string{"status", "extra"}, `gridswarm status takes no arguments, got "extra"`, "Usage:\n  gridswarm status [flags]"},
		{[]string{"log", "level", "debug", "info"}, "gridswarm log level takes 0 to 1 argument(s), got 2", "Usage:\n  gridswarm log level [LEVEL] [flags]"},
		{[]string{"help", "frobnicate"}, `gridswarm help: unknown help topic "frobnicate"`, "Usage:\n  gridswarm help [COMMAND]..."},
		{[]string{"completion", "tcsh"}, `gridswarm completion: unknown subcommand "tcsh": use bash, fish, powershell, zsh`, "Usage:\n  gridswarm completion [flags] <command>"},
		{[]string{"demo", "-n", "1"}, "gridswarm demo: -n 1: use 2 to 32 daemons", "Usage:\n  gridswarm demo [flags]"},
		{[]string{"demo", "--inner-steps", "0"}, "gridswarm demo: --inner-steps 0: use 1 to 1000000 steps per tasklet", "Usage:\n  gridswarm demo [flags]"},
		{[]string{"demo", "--inner-steps", "1000001"}, "gridswarm demo: --inner-steps 1000001: use 1 to 1000000 steps per tasklet", "Usage:\n  gridswarm demo [flags]"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, errOut, code := run(t, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if first, _, _ := strings.Cut(errOut, "\n"); !strings.HasPrefix(first, tt.wantLine) {
				t.Errorf("first line of stderr %q, want it to begin %q", first, tt.wantLine)
			}
			if !strings.Contains(errOut, tt.wantUsage) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantUsage, errOut)
			}
		})
	}
}

// Each shell's completion script is printed to stdout.
func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       "complete -o default -F __start_gridswarm gridswarm",
		"zsh":        "#compdef gridswarm",
		"fish":       "complete -c gridswarm",
		"powershell": "Register-ArgumentCompleter -CommandName 'gridswarm'",
	} {
		out, errOut, code := run(t, "completion", shell)
		if code != 0 || errOut != "" || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, stderr %q, stdout lacks %q", shell, code, errOut, want)
		}
	}
}

// The scripts ask the binary for candidates (cobra's __complete): they
// are the subcommands and flags of the command typed so far.
func TestCompletionCandidates(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"data", "g"}, []string{"gc\t", "get\t"}},
		{[]string{"job", "show", "x", "--"}, []string{"--json\t", "--repo\t"}},
		{[]string{"data", "get", "x", "-"}, []string{"--output\t", "--stall\t", "--timeout\t"}},
	}
	for _, tt := range tests {
		out, _, code := run(t, append([]string{"__complete"}, tt.args...)...)
		if code != 0 {
			t.Errorf("__complete %q: exit %d", tt.args, code)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, "\n"+w) && !strings.HasPrefix(out, w) {
				t.Errorf("__complete %q lacks %q:\n%s", tt.args, w, out)
			}
		}
	}
}
