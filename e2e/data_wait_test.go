package e2e

import (
	"crypto/rand"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/gridswarm/gridswarm/node"
)

// unknownCID is a valid CID of content nobody has.
func unknownCID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.DagProtobuf, h).String()
}

// Nothing waits forever: ls and pin of a CID nobody has end with a clear
// error within their timeout, nonsense limits are refused, and data pins
// shows who owns what.
func TestDataWaitsEndAndPinsHaveOwners(t *testing.T) {
	skipShort(t)
	ds := chain(t, 2)
	a := ds[0]
	unknown := unknownCID(t)

	for _, args := range [][]string{
		{"data", "ls", unknown, "--timeout", "2s"},
		{"data", "pin", unknown, "--timeout", "2s"},
		{"data", "get", unknown, "-o", filepath.Join(t.TempDir(), "x"), "--timeout", "2s"},
	} {
		r := gs(t, a.dir, args...)
		want := "no provider found for " + unknown + " within 2s: is a peer that holds it online?"
		if r.code == 0 || !strings.Contains(r.err, want) || !strings.Contains(r.err, "--timeout") {
			t.Errorf("gridswarm %s: exit %d, stderr %q; want an error saying %q and naming --timeout", strings.Join(args, " "), r.code, r.err, want)
		}
	}

	for _, args := range [][]string{
		{"data", "get", unknown, "-o", filepath.Join(t.TempDir(), "x"), "--stall", "0s"},
		{"data", "pin", unknown, "--stall", "-1s"},
		{"data", "ls", unknown, "--timeout", "0s"},
	} {
		r := gs(t, a.dir, args...)
		if r.code == 0 || !strings.Contains(r.err, "is not allowed") {
			t.Errorf("gridswarm %s: exit %d, stderr %q; want it refused as not allowed", strings.Join(args, " "), r.code, r.err)
		}
	}

	file := randomFile(t, t.TempDir(), "weights.bin", 100<<10)
	c := addCID(t, a, file)
	r := gs(t, a.dir, "data", "pins", "--json")
	if r.code != 0 {
		t.Fatalf("data pins --json: %s", r.err)
	}
	var pins []node.PinInfo
	if err := json.Unmarshal([]byte(r.out), &pins); err != nil {
		t.Fatalf("data pins --json printed %q: %v", r.out, err)
	}
	if len(pins) != 1 || pins[0].CID != c || pins[0].Owner != "user" || pins[0].Name != "weights.bin" || pins[0].Bytes == 0 {
		t.Errorf("data pins = %+v; want one pin of %s by user named weights.bin", pins, c)
	}
	r = gs(t, a.dir, "data", "pins")
	if r.code != 0 || !containsAllOf(r.out, "OWNER", "NAME", "user", "weights.bin", c) {
		t.Errorf("data pins table = %q; want owner, name and CID", r.out)
	}
}

func containsAllOf(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
