package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/gridswarm/gridswarm/client"
)

// minPeerFragment is the fewest characters of a peer ID that a short form
// must give: fewer would match by accident.
const minPeerFragment = 4

// resolvePeerArg turns a peer ID as the user typed it into a full one. A
// full ID is taken as it is; anything else is matched against the peers
// the daemon knows (peer_list), see matchPeer.
func resolvePeerArg(ctx context.Context, c *client.Client, arg string) (string, error) {
	if _, err := peer.Decode(arg); err == nil {
		return arg, nil
	}
	ps, err := c.Peers(ctx)
	if err != nil {
		return "", fmt.Errorf("cannot list the peers to complete %q: %w", arg, err)
	}
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return matchPeer(arg, ids)
}

// matchPeer finds the one ID in known that arg names: arg may be the short
// form `gridswarm peers` prints (prefix…suffix, or prefix...suffix), or a
// prefix or a suffix of the ID. No match or several are errors that say
// what to do.
func matchPeer(arg string, known []string) (string, error) {
	arg = strings.TrimSpace(arg)
	pre, suf, short := strings.Cut(arg, "…")
	if !short {
		pre, suf, short = strings.Cut(arg, "...")
	}
	if len(pre)+len(suf) < minPeerFragment {
		return "", fmt.Errorf("%q is too little of a peer ID: give the whole ID, the short form `gridswarm peers` prints, or at least %d characters of its start or end", arg, minPeerFragment)
	}
	var matches []string
	for _, id := range known {
		var ok bool
		if short {
			ok = len(id) >= len(pre)+len(suf) && strings.HasPrefix(id, pre) && strings.HasSuffix(id, suf)
		} else {
			ok = strings.HasPrefix(id, arg) || strings.HasSuffix(id, arg)
		}
		if ok && !slices.Contains(matches, id) {
			matches = append(matches, id)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		return "", fmt.Errorf("no connected or known peer matches %q: see `gridswarm peers --all`, or give the whole peer ID", arg)
	}
	slices.Sort(matches)
	return "", fmt.Errorf("%q matches %d peers; give more of the ID:\n  %s", arg, len(matches), strings.Join(matches, "\n  "))
}
