package cli

import (
	"errors"
	"strings"

	"github.com/gridswarm/gridswarm/client"
)

// errorLine is the one line the CLI prints when the command cmd (as
// commandPath names it) failed with err: "gridswarm data add: <what went
// wrong>". The message reads once: the JSON-RPC method the client names
// ("data_add: ") and the verb prefixes the daemon and the CLI add on the
// way ("data add: ", "data: ") are dropped, since the line already says
// which command failed. A message that itself begins with the command
// ("data add takes 1 argument(s)", "data ls bafy…: not a directory")
// follows "gridswarm " directly.
func errorLine(cmd string, err error) string {
	msg := errorMessage(cmd, err)
	if cmd == "" {
		return "gridswarm: " + msg
	}
	if strings.HasPrefix(msg, cmd+" ") {
		return "gridswarm " + msg
	}
	return "gridswarm " + cmd + ": " + msg
}

// errorMessage is err's text without the prefixes errorLine drops.
func errorMessage(cmd string, err error) string {
	// The command and each command above it: "data import mnist",
	// "data import", "data".
	drop := map[string]bool{}
	words := strings.Fields(cmd)
	for i := range words {
		p := strings.Join(words[:i+1], " ")
		drop[p] = true
		drop["gridswarm "+p] = true
	}
	for _, m := range callMethods(err) {
		drop[m] = true
		drop[strings.ReplaceAll(m, "_", " ")] = true
	}
	return dropSegments(err.Error(), drop)
}

// callMethods lists the JSON-RPC methods named by the *client.CallError
// values in err's chain, outermost first.
func callMethods(err error) []string {
	var ms []string
	for {
		var ce *client.CallError
		if !errors.As(err, &ce) {
			return ms
		}
		ms = append(ms, ce.Method)
		err = ce.Err
	}
}

// dropSegments removes from msg, a chain of "context: context: message",
// every context segment found in drop. The last segment, the message
// itself, always stays, and so does everything else byte for byte.
func dropSegments(msg string, drop map[string]bool) string {
	segs := strings.Split(msg, ": ")
	kept := segs[:0]
	for i, s := range segs {
		if i < len(segs)-1 && drop[s] {
			continue
		}
		kept = append(kept, s)
	}
	return strings.Join(kept, ": ")
}
