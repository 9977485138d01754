package client

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the client free of the daemon's insides: a program that
// talks to a daemon must not link libp2p, boxo or go-ethereum, and of this
// module it needs only the API types and the endpoint reader.
func TestDeps(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the go command")
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/gridswarm/gridswarm/client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	allowedOwn := map[string]bool{
		"github.com/gridswarm/gridswarm/client":             true,
		"github.com/gridswarm/gridswarm/api":                true,
		"github.com/gridswarm/gridswarm/node/repo/endpoint": true,
	}
	banned := []string{"github.com/libp2p/", "github.com/ipfs/", "github.com/ethereum/go-ethereum", "github.com/multiformats/"}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/gridswarm/gridswarm") && !allowedOwn[pkg] {
			t.Errorf("client depends on %s; it may use only api and node/repo/endpoint of this module", pkg)
		}
		for _, b := range banned {
			if strings.HasPrefix(pkg, b) {
				t.Errorf("client depends on %s (banned: %s…)", pkg, b)
			}
		}
	}
}
