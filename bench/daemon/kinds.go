package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/accounts/keystore"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/gridswarm/gridswarm/node/repo"
)

// maxReply caps what the benchmark reads from a daemon's API or files.
const maxReply = 1 << 20

// endpoint is how the benchmark talks to a ready daemon.
type endpoint struct {
	api     string // base URL of the HTTP API
	token   string // gridswarm's bearer token; empty for Kubo
	swarm   string // a loopback TCP multiaddr ending in /p2p/<id>
	metrics string // URL of the Prometheus text endpoint, "" if none
}

// kind is one daemon implementation under test.
type kind interface {
	name() string
	// initRepo creates a fresh repo in dir. It is not timed.
	initRepo(ctx context.Context, dir string) error
	// command runs the daemon on dir; boot, when set, is a peer to join at start.
	command(dir, boot string) *exec.Cmd
	// probe tries once to reach the daemon's API; ok is false until it answers.
	probe(ctx context.Context, dir string) (ep endpoint, ok bool)
	// join connects a started daemon to first, unless command's boot did already.
	join(ctx context.Context, ep endpoint, first string) error
	// peers counts the daemon's connected peers.
	peers(ctx context.Context, ep endpoint) (int, error)
	// goRuntime scrapes the daemon's Go runtime metrics.
	goRuntime(ctx context.Context, ep endpoint) (map[string]float64, error)
}

// childEnv is the benchmark's environment with the variables that steer
// either daemon removed, so a developer's shell cannot skew a run.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "IPFS_") || strings.HasPrefix(kv, "GRIDSWARM_") || strings.HasPrefix(kv, "LIBP2P_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// readSmall reads a file the daemon wrote, refusing anything oversized.
func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxReply+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxReply {
		return nil, fmt.Errorf("%s is over %d bytes", path, maxReply)
	}
	return b, nil
}

// get fetches url's body, capped at maxReply.
func get(ctx context.Context, c *http.Client, url string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("cannot build a request to %s: %w", url, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return "", fmt.Errorf("cannot read the answer of %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return string(b), nil
}

// post sends body to url and decodes a 200 answer into out.
func post(ctx context.Context, c *http.Client, url, token string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("cannot build a request to %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return fmt.Errorf("cannot read the answer of %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %.200s", url, resp.Status, b)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%s answered something that is not the expected JSON: %w", url, err)
	}
	return nil
}

// gridswarm runs `gridswarm daemon` on a local-profile repo. With a
// scrypt cost set, its keys are re-sealed at that cost after init: the
// standard cost is what a default-profile user pays; the minimal one (N=2,
// P=1) makes key derivation free, as it is for Kubo, whose identity sits
// unencrypted in its config.
type gridswarm struct {
	bin    string
	pass   string
	scrypt scryptCost // zero: the local profile's light cost
	http   *http.Client
}

// scryptCost is a key's scrypt N and P, with the name the report shows.
type scryptCost struct {
	label string
	n, p  int
}

var (
	scryptStandard = scryptCost{label: "standard scrypt", n: keystore.StandardScryptN, p: keystore.StandardScryptP}
	scryptMinimal  = scryptCost{label: "scrypt N=2: no key-derivation cost, as Kubo", n: 2, p: 1}
)

func (g *gridswarm) name() string {
	if g.scrypt.n != 0 {
		return "gridswarm (" + g.scrypt.label + ")"
	}
	return "gridswarm"
}

func (g *gridswarm) initRepo(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, g.bin, "--repo", dir, "init", "--profile", "local")
	cmd.Env = childEnv("GRIDSWARM_PASSWORD=" + g.pass)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gridswarm init in %s: %w: %s", dir, err, out)
	}
	if g.scrypt.n != 0 {
		return resealKeys(dir, g.pass, g.scrypt.n, g.scrypt.p)
	}
	return nil
}

// resealKeys re-encrypts every key the daemon unlocks at start, the libp2p
// identity and the Ethereum account, with scrypt cost n, p.
func resealKeys(dir, pass string, n, p int) error {
	if err := resealIdentity(dir, pass, n, p); err != nil {
		return err
	}
	files, err := keystoreFiles(dir)
	if err != nil {
		return err
	}
	for _, path := range files {
		b, err := readSmall(path)
		if err != nil {
			return fmt.Errorf("cannot read the Ethereum key to re-seal: %w", err)
		}
		key, err := keystore.DecryptKey(b, pass)
		if err != nil {
			return fmt.Errorf("cannot unlock %s to re-seal it: %w", path, err)
		}
		if b, err = keystore.EncryptKey(key, pass, n, p); err != nil {
			return fmt.Errorf("cannot re-seal %s: %w", path, err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return fmt.Errorf("cannot write the re-sealed %s: %w", path, err)
		}
	}
	return nil
}

// keystoreFiles lists the Ethereum key files of a repo.
func keystoreFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, repo.KeystoreDir))
	if err != nil {
		return nil, fmt.Errorf("cannot read the keystore: %w", err)
	}
	var files []string
	for _, e := range entries {
		if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			files = append(files, filepath.Join(dir, repo.KeystoreDir, e.Name()))
		}
	}
	return files, nil
}

// resealIdentity re-encrypts dir's libp2p identity with scrypt cost n, p,
// keeping every other field of the identity file as it was.
func resealIdentity(dir, pass string, n, p int) error {
	path := filepath.Join(dir, repo.IdentityFile)
	b, err := readSmall(path)
	if err != nil {
		return fmt.Errorf("cannot read the identity to re-seal: %w", err)
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("identity file %s is not JSON: %w", path, err)
	}
	var sealed keystore.CryptoJSON
	if err := json.Unmarshal(f["crypto"], &sealed); err != nil {
		return fmt.Errorf("identity file %s has no crypto section: %w", path, err)
	}
	raw, err := keystore.DecryptDataV3(sealed, pass)
	if err != nil {
		return fmt.Errorf("cannot unlock %s to re-seal it: %w", path, err)
	}
	if sealed, err = keystore.EncryptDataV3(raw, []byte(pass), n, p); err != nil {
		return fmt.Errorf("cannot re-seal %s: %w", path, err)
	}
	if f["crypto"], err = json.Marshal(sealed); err != nil {
		return fmt.Errorf("cannot encode the re-sealed identity: %w", err)
	}
	if b, err = json.Marshal(f); err != nil {
		return fmt.Errorf("cannot encode the re-sealed identity: %w", err)
	}
	return os.WriteFile(path, b, 0o600)
}

func (g *gridswarm) command(dir, boot string) *exec.Cmd {
	args := []string{"--repo", dir, "daemon"}
	if boot != "" {
		args = append(args, "--bootstrap", boot)
	}
	cmd := exec.Command(g.bin, args...)
	cmd.Env = childEnv("GRIDSWARM_PASSWORD=" + g.pass)
	return cmd
}

func (g *gridswarm) probe(ctx context.Context, dir string) (endpoint, bool) {
	b, err := readSmall(filepath.Join(dir, repo.EndpointFile))
	if err != nil {
		return endpoint{}, false
	}
	var e repo.Endpoint
	if json.Unmarshal(b, &e) != nil {
		return endpoint{}, false
	}
	tok, err := repo.Token(dir)
	if err != nil {
		return endpoint{}, false
	}
	ep := endpoint{api: e.HTTP, token: tok, swarm: loopbackTCP(e.Swarm), metrics: e.Metrics}
	if _, err := g.status(ctx, ep); err != nil {
		return endpoint{}, false
	}
	return ep, true
}

// status calls node_status, the cheapest JSON-RPC that touches the node.
func (g *gridswarm) status(ctx context.Context, ep endpoint) (int, error) {
	var reply struct {
		Result *struct {
			Peers int `json:"peers"`
		} `json:"result"`
		Error *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	body := []byte(`{"jsonrpc":"2.0","id":1,"method":"node_status","params":[]}`)
	if err := post(ctx, g.http, ep.api, ep.token, body, &reply); err != nil {
		return 0, err
	}
	if reply.Error != nil || reply.Result == nil {
		return 0, fmt.Errorf("node_status failed: %+v", reply.Error)
	}
	return reply.Result.Peers, nil
}

func (g *gridswarm) join(context.Context, endpoint, string) error { return nil }

func (g *gridswarm) peers(ctx context.Context, ep endpoint) (int, error) {
	return g.status(ctx, ep)
}

func (g *gridswarm) goRuntime(ctx context.Context, ep endpoint) (map[string]float64, error) {
	return scrapeGo(ctx, g.http, ep.metrics)
}

// loopbackTCP picks the first /ip4/127.0.0.1/tcp address from addrs.
func loopbackTCP(addrs []string) string {
	for _, a := range addrs {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") && strings.Contains(a, "/p2p/") && !strings.Contains(a, "/ws") {
			return a
		}
	}
	return ""
}

// kubo runs Kubo's `ipfs daemon` on a `--profile test` repo made offline.
type kubo struct {
	bin     string
	routing string // Routing.Type
	quic    bool   // also listen on QUIC, as gridswarm's local profile does
	http    *http.Client
}

func (k *kubo) name() string { return "Kubo" }

func (k *kubo) initRepo(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, k.bin, "init", "--profile", "test")
	cmd.Env = childEnv("IPFS_PATH="+dir, "IPFS_TELEMETRY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ipfs init in %s: %w: %s", dir, err, out)
	}
	return k.offline(filepath.Join(dir, "config"))
}

// offline edits Kubo's config so that nothing reaches beyond loopback even
// outside the namespace: no AutoConf fetch, no delegated routers, no
// bootstrap peers, no mDNS, no UPnP, no telemetry.
func (k *kubo) offline(path string) error {
	b, err := readSmall(path)
	if err != nil {
		return fmt.Errorf("cannot read Kubo's config: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("kubo config %s is not JSON: %w", path, err)
	}
	set := func(keys string, v any) {
		m := c
		parts := strings.Split(keys, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := m[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				m[p] = next
			}
			m = next
		}
		m[parts[len(parts)-1]] = v
	}
	set("AutoConf.Enabled", false)
	set("Routing.Type", k.routing)
	set("Routing.DelegatedRouters", []string{})
	set("Bootstrap", []string{})
	set("Discovery.MDNS.Enabled", false)
	set("Swarm.DisableNatPortMap", true)
	set("AutoTLS.Enabled", false)
	set("Plugins.Plugins.telemetry.Config.Mode", "off")
	swarm := []string{"/ip4/127.0.0.1/tcp/0"}
	if k.quic {
		swarm = append(swarm, "/ip4/127.0.0.1/udp/0/quic-v1")
	}
	set("Addresses.Swarm", swarm)
	out, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode Kubo's config: %w", err)
	}
	return os.WriteFile(path, out, 0o600)
}

func (k *kubo) command(dir, _ string) *exec.Cmd {
	cmd := exec.Command(k.bin, "daemon")
	cmd.Env = childEnv("IPFS_PATH="+dir, "IPFS_TELEMETRY=off")
	return cmd
}

func (k *kubo) probe(ctx context.Context, dir string) (endpoint, bool) {
	b, err := readSmall(filepath.Join(dir, "api"))
	if err != nil {
		return endpoint{}, false
	}
	addr, err := ma.NewMultiaddr(strings.TrimSpace(string(b)))
	if err != nil {
		return endpoint{}, false
	}
	na, err := manet.ToNetAddr(addr)
	if err != nil {
		return endpoint{}, false
	}
	ep := endpoint{api: "http://" + na.String()}
	ep.metrics = ep.api + "/debug/metrics/prometheus"
	var id struct {
		ID        string   `json:"ID"`
		Addresses []string `json:"Addresses"`
	}
	if err := post(ctx, k.http, ep.api+"/api/v0/id", "", nil, &id); err != nil {
		return endpoint{}, false
	}
	ep.swarm = loopbackTCP(id.Addresses)
	return ep, true
}

func (k *kubo) join(ctx context.Context, ep endpoint, first string) error {
	if err := post(ctx, k.http, ep.api+"/api/v0/swarm/connect?arg="+url.QueryEscape(first), "", nil, nil); err != nil {
		return fmt.Errorf("ipfs swarm connect %s: %w", first, err)
	}
	return nil
}

func (k *kubo) peers(ctx context.Context, ep endpoint) (int, error) {
	var reply struct {
		Peers []json.RawMessage `json:"Peers"`
	}
	if err := post(ctx, k.http, ep.api+"/api/v0/swarm/peers", "", nil, &reply); err != nil {
		return 0, err
	}
	return len(reply.Peers), nil
}

func (k *kubo) goRuntime(ctx context.Context, ep endpoint) (map[string]float64, error) {
	return scrapeGo(ctx, k.http, ep.metrics)
}
