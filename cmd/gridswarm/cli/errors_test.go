package cli

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gridswarm/gridswarm/client"
)

func TestErrorLine(t *testing.T) {
	rpc := func(method, msg string) error {
		return &client.CallError{Method: method, Err: &client.Error{Code: -32000, Message: msg}}
	}
	tests := []struct {
		name string
		cmd  string
		err  error
		want string
	}{
		{"method and verb prefix dropped", "data add",
			rpc("data_add", "data add: /tmp/x/link is a symlink (L---------): only regular files and folders can be added"),
			"gridswarm data add: /tmp/x/link is a symlink (L---------): only regular files and folders can be added"},
		{"method only", "job cancel",
			rpc("job_cancel", "no job abc"),
			"gridswarm job cancel: no job abc"},
		{"wrapped by the CLI keeps its own context", "data get",
			fmt.Errorf("cannot resolve out: %w", rpc("data_get", "data get: no provider found")),
			"gridswarm data get: cannot resolve out: no provider found"},
		{"a command without subcommands", "status",
			rpc("node_status", "node status: not ready"),
			"gridswarm status: not ready"},
		{"a refusal over HTTP", "peers",
			&client.CallError{Method: "peer_list", Err: &client.HTTPError{StatusCode: 401, Status: "401 Unauthorized", Body: "bad token"}},
			"gridswarm peers: 401 Unauthorized: bad token"},
		{"the message itself is never dropped", "data add",
			rpc("data_add", "data add"),
			"gridswarm data add: data add"},
		{"other contexts stay byte for byte", "data add",
			errors.New("data add: open /tmp/data add: x: permission denied"),
			"gridswarm data add: open /tmp/data add: x: permission denied"},
		{"a plain local error", "job model",
			errors.New("job model: cannot write m.safetensors: disk full"),
			"gridswarm job model: cannot write m.safetensors: disk full"},
		{"a message that begins with the command", "data ls",
			rpc("data_ls", "data ls bafkqaaa: not a directory"),
			"gridswarm data ls bafkqaaa: not a directory"},
		{"a usage error that begins with the command", "data add",
			usageError{"data add takes 1 argument(s), got 0"},
			"gridswarm data add takes 1 argument(s), got 0"},
		{"a usage error with the command as its context", "data pin",
			usageError{"data pin: --timeout -1s is not allowed"},
			"gridswarm data pin: --timeout -1s is not allowed"},
		{"the parent command's prefix too", "data pins",
			errors.New("data: no pins"),
			"gridswarm data pins: no pins"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errorLine(tt.cmd, tt.err); got != tt.want {
				t.Errorf("errorLine(%q, %q)\n got %q\nwant %q", tt.cmd, tt.err, got, tt.want)
			}
		})
	}
}

func TestCommandPath(t *testing.T) {
	root := newRootCmd(&env{IO: IO{Getenv: func(string) string { return "" }}})
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"data", "add", "/tmp/x"}, "data add"},
		{[]string{"data", "import", "mnist"}, "data import mnist"},
		{[]string{"data", "frobnicate"}, "data"},
		{[]string{"data"}, "data"},
		{[]string{"--repo", "/tmp/r", "job", "model", "abc", "-o", "m"}, "job model"},
		{[]string{"tasklet", "run", "spec.json"}, "tasklet run"},
		{[]string{"submit", "JOB.yaml"}, "submit"},
		{[]string{"status"}, "status"},
		{nil, ""},
	}
	for _, tt := range tests {
		cmd, _, err := root.Find(tt.args)
		if err != nil {
			t.Fatalf("Find(%q): %v", tt.args, err)
		}
		if got := commandPath(cmd); got != tt.want {
			t.Errorf("commandPath(%q) = %q, want %q", tt.args, got, tt.want)
		}
	}
}
