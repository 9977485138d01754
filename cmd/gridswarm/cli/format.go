package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/node"
)

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printJSONLine writes v as one line of JSON (JSON Lines, for streams).
func printJSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// printPeerTable draws RTT as a bar so the near and far peers stand out.
func printPeerTable(w io.Writer, ps []node.Peer) {
	maxRTT := 0.0
	for _, p := range ps {
		maxRTT = max(maxRTT, p.RTTMillis)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tSTATE\tRTT\t\tSPOT CHECKS\tAGENT\tADDRESS")
	for _, p := range ps {
		state := "known"
		if p.Connected {
			state = "connected"
		}
		rtt := "-"
		if p.RTTMillis > 0 {
			rtt = fmt.Sprintf("%.2f ms", p.RTTMillis)
		}
		addr := ""
		if len(p.Addrs) > 0 {
			addr = p.Addrs[0]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", shortID(p.ID), state, rtt, bar(p.RTTMillis, maxRTT, 12), reputation(p.Reputation), p.Agent, addr)
	}
	tw.Flush()
}

func bar(v, maxV float64, width int) string {
	if maxV <= 0 || v <= 0 {
		return ""
	}
	n := int(v / maxV * float64(width))
	return strings.Repeat("█", max(n, 1))
}

func shortID(id string) string {
	if len(id) <= 16 {
		return id
	}
	return id[:8] + "…" + id[len(id)-6:]
}

// done reports a command that changed something: v as JSON with --json,
// else the one line format makes.
func (e *env) done(v any, format string, args ...any) error {
	if e.json {
		return printJSON(e.Out, v)
	}
	_, err := fmt.Fprintf(e.Out, format+"\n", args...)
	return err
}

// reputation summarises what this node's spot checks found of a peer.
func reputation(r *api.Reputation) string {
	switch {
	case r == nil:
		return "-"
	case r.Banned:
		return "BANNED"
	case r.Checked == 0:
		return fmt.Sprintf("ran %d, none checked", r.Run)
	}
	return fmt.Sprintf("%d/%d agreed", r.Verified, r.Checked)
}
