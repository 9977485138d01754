package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/gridswarm/gridswarm/scheduler/jobspec"
	"github.com/gridswarm/gridswarm/scheduler/placement"
)

// Profiles accepted by Default and `gridswarm init --profile`.
const (
	ProfileDefault = "default"
	ProfileLocal   = "local"
)

// Config is the whole of config.toml.
type Config struct {
	Profile     string      `toml:"profile"`
	Swarm       Swarm       `toml:"swarm"`
	DHT         DHT         `toml:"dht"`
	API         API         `toml:"api"`
	Metrics     Metrics     `toml:"metrics"`
	Log         Log         `toml:"log"`
	Keystore    Keystore    `toml:"keystore"`
	Datagrid    Datagrid    `toml:"datagrid"`
	Worker      Worker      `toml:"worker"`
	Coordinator Coordinator `toml:"coordinator"`
	Settle      Settle      `toml:"settle"`
}

// Coordinator limits the jobs this node coordinates (those submitted to it).
type Coordinator struct {
	// MaxMemory is the memory one job may take here; a job estimated to
	// need more is refused at submit. 0 ("auto") is half the machine's
	// physical memory.
	MaxMemory Size `toml:"max_memory"`
	// KeepRounds is how many recent rounds' weights a job keeps pinned
	// besides its final model and provenance.
	KeepRounds int `toml:"keep_rounds"`
	// Placement is how this node's jobs choose peers: "eta" (fastest
	// estimated completion, the default) or "random" (the baseline to
	// compare against; see docs/benchmarks.md).
	Placement string `toml:"placement"`
}

// MemoryLimit is MaxMemory in bytes, or half of physical when it is auto.
func (c Coordinator) MemoryLimit(physical uint64) uint64 {
	if c.MaxMemory > 0 {
		return uint64(c.MaxMemory)
	}
	return physical / 2
}

// Size is a number of bytes written in TOML as "4GiB", "512MB" or "auto"
// (0, a value the key's comment defines).
type Size uint64

// UnmarshalText reads "auto" or a size such as "4GiB" or "1.5 GB".
func (z *Size) UnmarshalText(b []byte) error {
	if string(b) == "auto" {
		*z = 0
		return nil
	}
	v, err := jobspec.ParseSize(string(b))
	if err != nil {
		return fmt.Errorf("%q is not \"auto\" or a size such as \"4GiB\" or \"512MB\"", b)
	}
	*z = Size(v)
	return nil
}

// MarshalText writes "auto" for 0, else the size with the largest binary
// unit that divides it.
func (z Size) MarshalText() ([]byte, error) {
	if z == 0 {
		return []byte("auto"), nil
	}
	return []byte(jobspec.Size(z).String()), nil
}

// Worker configures what this node offers the swarm.
type Worker struct {
	Enabled      bool     `toml:"enabled"`
	Executors    []string `toml:"executors"`
	PricePerHour float64  `toml:"price_per_hour"`
	// MinPrice is the least a paid tasklet must pay, in whole tokens of
	// the settlement token ("" or "0": any, unpaid ones included).
	MinPrice       string   `toml:"min_price"`
	Hours          string   `toml:"hours"`
	MaxUtilization int      `toml:"max_utilization"`
	QuietFor       Duration `toml:"quiet_for"`
	MaxConcurrent  int      `toml:"max_concurrent"`
	TrainerWorkers int      `toml:"trainer_workers"`
	OutputTTL      Duration `toml:"output_ttl"`
	Wasm           Wasm     `toml:"wasm"`
	Process        Process  `toml:"process"`
	// Fault makes this worker cheat, for tests and demos of verification;
	// only the local profile accepts it. Absent from written configs.
	Fault *Fault `toml:"fault,omitempty"`
}

// Fault is [worker.fault]: a worker that lies about some of its builtin
// outputs (see worker.FaultConfig).
type Fault struct {
	Kind  string   `toml:"kind"`            // lazy, noise, garbage or collude
	Rate  *float64 `toml:"rate"`            // share of tasklets lied about, 0 to 1
	Seed  *int64   `toml:"seed,omitempty"`  // any integer; only keys the draws
	Group string   `toml:"group,omitempty"` // collude only
}

// FaultOnlyLocal is the error for [worker.fault] outside the local profile.
const FaultOnlyLocal = "worker.fault is for tests and demos: it is honoured only in the local profile; remove [worker.fault]"

// Wasm limits the WASM sandbox.
type Wasm struct {
	MemoryMB int      `toml:"memory_mb"`
	Timeout  Duration `toml:"timeout"`
}

// Process configures the opt-in process executor.
type Process struct {
	Enabled    bool     `toml:"enabled"`
	Allow      []string `toml:"allow"`
	Timeout    Duration `toml:"timeout"`
	CPUSeconds uint64   `toml:"cpu_seconds"`
	MemoryMB   uint64   `toml:"memory_mb"`
	GPUs       []int    `toml:"gpus"`
	// Runtime is what the sandbox shows read-only (empty: /usr, /bin,
	// /lib…: enough for Debian's python3 with torch); MaxProcesses, CPUs
	// and CgroupRoot bound the tasklet's whole process tree.
	Runtime      []string `toml:"runtime"`
	MaxProcesses int      `toml:"max_processes"`
	CPUs         float64  `toml:"cpus"`
	CgroupRoot   string   `toml:"cgroup_root"`
}

// Settle is [settle]: which chain pays for work, if any.
type Settle struct {
	// Backend is off (no chain: nothing starts), embedded (a dev chain
	// inside this daemon, in Dir) or rpc (an endpoint at RPCURL).
	Backend string `toml:"backend"`
	// ChainID is the chain's ID; 0 is "auto": SettleOffChainID with the
	// backend off (only the receipts' EIP-712 domain uses it),
	// settle.DefaultChainID otherwise (what an embedded chain is created
	// with, and what rpc expects of another daemon's embedded chain).
	ChainID uint64 `toml:"chain_id"`
	// Confirmations the rpc backend waits for (the embedded chain's blocks
	// are final once durable).
	Confirmations uint64 `toml:"confirmations"`
	// Dir is the embedded chain's data folder, relative to the repo.
	Dir string `toml:"dir"`
	// Listen is where the embedded chain serves Ethereum JSON-RPC over HTTP
	// and WebSocket (one port), on 127.0.0.1 only.
	Listen string `toml:"listen"`
	// RPCURL is the rpc backend's endpoint.
	RPCURL string `toml:"rpc_url"`
	// The rpc backend's deployment (the embedded backend deploys its own
	// and keeps the addresses in the repo's settle.json).
	Token    string `toml:"token"`
	Escrow   string `toml:"escrow"`
	Registry string `toml:"registry"`
	Stake    string `toml:"stake"`
	// ClaimThreshold is how much (whole tokens) a worker's daemon must be
	// owed before it claims on its own; "0" claims whatever is owed.
	ClaimThreshold string `toml:"claim_threshold"`
}

// Settlement backends.
const (
	SettleOff      = "off"
	SettleEmbedded = "embedded"
	SettleRPC      = "rpc"
)

// SettleOffChainID is the receipts' EIP-712 chain ID with no chain: the
// value every receipt carried before settlement existed.
const SettleOffChainID = 1337

// defaultChainID mirrors settle.DefaultChainID ("grid" in ASCII); config
// does not import settle (and go-ethereum's node) for one constant. A test
// keeps them equal.
const defaultChainID = 0x67726964

// EffectiveChainID resolves chain_id = 0 ("auto") for the backend.
func (s Settle) EffectiveChainID() uint64 {
	switch {
	case s.ChainID != 0:
		return s.ChainID
	case s.Backend == SettleOff || s.Backend == "":
		return SettleOffChainID
	default:
		return defaultChainID
	}
}

// Swarm configures the libp2p host.
type Swarm struct {
	Listen    []string `toml:"listen"`
	Bootstrap []string `toml:"bootstrap"`
	MDNS      bool     `toml:"mdns"`
	NAT       bool     `toml:"nat"`
	ConnLow   int      `toml:"conn_low"`
	ConnHigh  int      `toml:"conn_high"`
	ConnGrace Duration `toml:"conn_grace"`
	// Resource manager limits. ConnHigh must stay under MaxConns so the
	// connection manager trims before the resource manager refuses.
	MaxConns    int      `toml:"max_conns"`
	MaxStreams  int      `toml:"max_streams"`
	MaxMemoryMB int      `toml:"max_memory_mb"`
	MaxFDs      int      `toml:"max_fds"`
	PingEvery   Duration `toml:"ping_interval"`
	// DiscoverEvery is how often the node looks for more swarm members
	// through the DHT rendezvous record.
	DiscoverEvery Duration `toml:"discover_interval"`
}

// DHT configures the Kademlia DHT.
type DHT struct {
	Mode string `toml:"mode"` // auto, server or client
}

// API configures the localhost JSON-RPC.
type API struct {
	Listen         string   `toml:"listen"`
	MaxBodyBytes   int      `toml:"max_body_bytes"`
	AllowedOrigins []string `toml:"allowed_origins"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	Enabled bool   `toml:"enabled"`
	Listen  string `toml:"listen"`
}

// Log configures structured logging.
type Log struct {
	Level  string `toml:"level"`
	Format string `toml:"format"`
}

// Keystore sets the scrypt cost used to encrypt keys at init.
type Keystore struct {
	Scrypt string `toml:"scrypt"` // standard or light
}

// Datagrid configures the local block store.
type Datagrid struct {
	QuotaGiB          float64  `toml:"quota_gib"`
	ReprovideInterval Duration `toml:"reprovide_interval"`
}

// Duration is a time.Duration written as "20s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"30s\" or \"5m\"", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as Go formats it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration of a profile.
func Default(profile string) (Config, error) {
	c := Config{
		Profile: ProfileDefault,
		Swarm: Swarm{
			Listen:        []string{"/ip4/0.0.0.0/tcp/4101", "/ip4/0.0.0.0/udp/4101/quic-v1"},
			MDNS:          true,
			NAT:           true,
			ConnLow:       64,
			ConnHigh:      192,
			ConnGrace:     Duration{20 * time.Second},
			MaxConns:      256,
			MaxStreams:    4096,
			MaxMemoryMB:   512,
			MaxFDs:        1024,
			PingEvery:     Duration{15 * time.Second},
			DiscoverEvery: Duration{time.Minute},
		},
		DHT:      DHT{Mode: "auto"},
		API:      API{Listen: "127.0.0.1:5101", MaxBodyBytes: 1 << 20},
		Metrics:  Metrics{Enabled: true, Listen: "127.0.0.1:5102"},
		Log:      Log{Level: "info", Format: "text"},
		Keystore: Keystore{Scrypt: "standard"},
		Datagrid: Datagrid{QuotaGiB: 50, ReprovideInterval: Duration{12 * time.Hour}},
		Worker: Worker{
			Enabled:        true,
			Executors:      []string{"builtin", "wasm"},
			MaxUtilization: 10,
			QuietFor:       Duration{5 * time.Minute},
			MaxConcurrent:  1,
			OutputTTL:      Duration{time.Hour},
			Wasm:           Wasm{MemoryMB: 256, Timeout: Duration{5 * time.Minute}},
			Process:        Process{Timeout: Duration{time.Hour}, Allow: []string{}, GPUs: []int{}},
		},
		Coordinator: Coordinator{KeepRounds: 3, Placement: placement.StrategyETA},
		Settle:      Settle{Backend: SettleOff, Confirmations: 1, Dir: "chain", ClaimThreshold: "0", Listen: "127.0.0.1:5103"},
	}
	switch profile {
	case ProfileDefault, "":
	case ProfileLocal:
		// Several daemons side by side on one machine, never a packet off loopback.
		c.Profile = ProfileLocal
		c.Swarm.Listen = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}
		c.Swarm.MDNS = false
		c.Swarm.NAT = false
		c.Swarm.PingEvery = Duration{5 * time.Second}
		c.Swarm.DiscoverEvery = Duration{5 * time.Second}
		c.DHT.Mode = "server"
		c.API.Listen = "127.0.0.1:0"
		c.Metrics.Listen = "127.0.0.1:0"
		c.Keystore.Scrypt = "light"
		c.Datagrid.QuotaGiB = 4
		c.Datagrid.ReprovideInterval = Duration{time.Hour}
		c.Settle.Listen = "127.0.0.1:0"
	default:
		return Config{}, fmt.Errorf("unknown profile %q: use %q or %q", profile, ProfileDefault, ProfileLocal)
	}
	return c, nil
}

// Load reads and validates a config file. Keys it does not know are errors:
// a typo must not silently fall back to a default.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("cannot read config: %w", err)
	}
	return Parse(b, path)
}

// Parse decodes TOML over the default profile's values and validates it.
func Parse(b []byte, name string) (Config, error) {
	c, _ := Default(ProfileDefault)
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return Config{}, fmt.Errorf("config %s: unknown key %s: remove it or check its spelling against `gridswarm init`'s config.toml", name, strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", name, err)
	}
	return c, nil
}

// Validate checks every field and names the first bad key.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if c.Profile != ProfileDefault && c.Profile != ProfileLocal {
		bad("profile", "%q is not one of default, local", c.Profile)
	}
	if len(c.Swarm.Listen) == 0 {
		bad("swarm.listen", "needs at least one multiaddr such as /ip4/127.0.0.1/tcp/4101")
	}
	for i, s := range c.Swarm.Listen {
		if _, err := ma.NewMultiaddr(s); err != nil {
			bad(fmt.Sprintf("swarm.listen[%d]", i), "%q is not a multiaddr: %v", s, err)
		}
	}
	for i, s := range c.Swarm.Bootstrap {
		if err := checkPeerAddr(s); err != nil {
			bad(fmt.Sprintf("swarm.bootstrap[%d]", i), "%v", err)
		}
	}
	if c.Swarm.ConnLow < 0 || c.Swarm.ConnHigh <= c.Swarm.ConnLow {
		bad("swarm.conn_high", "must be above swarm.conn_low (%d), got %d", c.Swarm.ConnLow, c.Swarm.ConnHigh)
	}
	if c.Swarm.MaxConns <= c.Swarm.ConnHigh {
		bad("swarm.max_conns", "must be above swarm.conn_high (%d) so the connection manager trims before the resource manager refuses, got %d", c.Swarm.ConnHigh, c.Swarm.MaxConns)
	}
	for _, l := range []struct {
		key string
		v   int
	}{{"swarm.max_streams", c.Swarm.MaxStreams}, {"swarm.max_memory_mb", c.Swarm.MaxMemoryMB}, {"swarm.max_fds", c.Swarm.MaxFDs}} {
		if l.v <= 0 {
			bad(l.key, "must be positive, got %d", l.v)
		}
	}
	if c.Swarm.PingEvery.Duration < time.Second {
		bad("swarm.ping_interval", "must be at least 1s, got %s", c.Swarm.PingEvery)
	}
	if c.Swarm.DiscoverEvery.Duration < time.Second {
		bad("swarm.discover_interval", "must be at least 1s, got %s", c.Swarm.DiscoverEvery)
	}
	switch c.DHT.Mode {
	case "auto", "server", "client":
	default:
		bad("dht.mode", "%q is not one of auto, server, client", c.DHT.Mode)
	}
	if err := checkLoopback(c.API.Listen); err != nil {
		bad("api.listen", "%v", err)
	}
	if c.API.MaxBodyBytes < 1024 || c.API.MaxBodyBytes > 64<<20 {
		bad("api.max_body_bytes", "must be between 1024 and 67108864, got %d", c.API.MaxBodyBytes)
	}
	if c.Metrics.Enabled {
		if err := checkLoopback(c.Metrics.Listen); err != nil {
			bad("metrics.listen", "%v", err)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Log.Format != "text" && c.Log.Format != "json" {
		bad("log.format", "%q is not one of text, json", c.Log.Format)
	}
	if c.Keystore.Scrypt != "standard" && c.Keystore.Scrypt != "light" {
		bad("keystore.scrypt", "%q is not one of standard, light", c.Keystore.Scrypt)
	}
	if c.Datagrid.QuotaGiB < 0 {
		bad("datagrid.quota_gib", "must be 0 (no quota) or positive, got %g", c.Datagrid.QuotaGiB)
	}
	for i, e := range c.Worker.Executors {
		if e != "builtin" && e != "wasm" && e != "process" {
			bad(fmt.Sprintf("worker.executors[%d]", i), "%q is not one of builtin, wasm, process", e)
		}
		if e == "process" && !c.Worker.Process.Enabled {
			bad(fmt.Sprintf("worker.executors[%d]", i), "process needs worker.process.enabled = true and an allowlist")
		}
	}
	if c.Worker.Process.Enabled && len(c.Worker.Process.Allow) == 0 {
		bad("worker.process.allow", "is empty: list the commands tasklets may run, e.g. [\"python3\"]")
	}
	if p := c.Worker.Process; p.MaxProcesses < 0 || p.MaxProcesses > 1<<20 {
		bad("worker.process.max_processes", "must be 0 (512) to %d, got %d", 1<<20, p.MaxProcesses)
	}
	if p := c.Worker.Process; p.CPUs < 0 || p.CPUs > 4096 || p.CPUs != p.CPUs {
		bad("worker.process.cpus", "must be 0 (no limit) to 4096 cores, got %g", p.CPUs)
	}
	for i, r := range c.Worker.Process.Runtime {
		if !filepath.IsAbs(r) {
			bad(fmt.Sprintf("worker.process.runtime[%d]", i), "%q is not an absolute path", r)
		}
	}
	if c.Worker.MaxUtilization < 0 || c.Worker.MaxUtilization > 100 {
		bad("worker.max_utilization", "must be 0-100 percent, got %d", c.Worker.MaxUtilization)
	}
	if c.Worker.MaxConcurrent < 1 || c.Worker.MaxConcurrent > 256 {
		bad("worker.max_concurrent", "must be 1-256, got %d", c.Worker.MaxConcurrent)
	}
	if c.Worker.TrainerWorkers < 0 || c.Worker.TrainerWorkers > 256 {
		bad("worker.trainer_workers", "must be 0-256, got %d", c.Worker.TrainerWorkers)
	}
	if c.Worker.PricePerHour < 0 {
		bad("worker.price_per_hour", "must not be negative, got %g", c.Worker.PricePerHour)
	}
	if c.Worker.Wasm.MemoryMB < 1 || c.Worker.Wasm.MemoryMB > 4096 {
		bad("worker.wasm.memory_mb", "must be 1-4096, got %d", c.Worker.Wasm.MemoryMB)
	}
	if c.Worker.OutputTTL.Duration < time.Second {
		bad("worker.output_ttl", "must be at least 1s, got %s", c.Worker.OutputTTL)
	}
	if c.Worker.Fault != nil {
		if err := checkFault(c, bad); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Coordinator.MaxMemory != 0 && c.Coordinator.MaxMemory < 16<<20 {
		bad("coordinator.max_memory", "must be \"auto\" or at least 16MiB, got %s", jobspec.Size(c.Coordinator.MaxMemory))
	}
	if c.Coordinator.KeepRounds < 1 || c.Coordinator.KeepRounds > 1000 {
		bad("coordinator.keep_rounds", "must be 1-1000, got %d", c.Coordinator.KeepRounds)
	}
	if p := c.Coordinator.Placement; p != placement.StrategyETA && p != placement.StrategyRandom {
		bad("coordinator.placement", "must be %q or %q, got %q", placement.StrategyETA, placement.StrategyRandom, p)
	}
	if c.Datagrid.ReprovideInterval.Duration < time.Minute {
		bad("datagrid.reprovide_interval", "must be at least 1m, got %s", c.Datagrid.ReprovideInterval)
	}
	checkSettle(c.Settle, bad)
	return errors.Join(errs...)
}

// checkSettle checks [settle]; keys a backend does not use are checked
// only for that backend, so a config can keep both sets.
func checkSettle(s Settle, bad func(key, format string, args ...any)) {
	switch s.Backend {
	case SettleOff:
		return
	case SettleEmbedded:
		if s.Dir == "" || filepath.IsAbs(s.Dir) || !filepath.IsLocal(s.Dir) {
			bad("settle.dir", "%q must be a folder inside the repo such as \"chain\"", s.Dir)
		}
		if err := checkChainListen(s.Listen); err != nil {
			bad("settle.listen", "%v", err)
		}
	case SettleRPC:
		u, err := url.Parse(s.RPCURL)
		switch {
		case s.RPCURL == "":
			bad("settle.rpc_url", "is empty: backend = \"rpc\" needs an endpoint such as http://127.0.0.1:5103 (another daemon's `gridswarm wallet info` prints its own)")
		case err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "ws" && u.Scheme != "wss"):
			bad("settle.rpc_url", "%q is not an http(s):// or ws(s):// endpoint URL", s.RPCURL)
		}
		for _, a := range []struct{ key, v string }{{"settle.token", s.Token}, {"settle.escrow", s.Escrow}, {"settle.registry", s.Registry}, {"settle.stake", s.Stake}} {
			if !isHexAddress(a.v) {
				bad(a.key, "%q is not a contract address 0x… (40 hex digits): copy it from `gridswarm wallet info` on the daemon that deployed the contracts", a.v)
			}
		}
		if s.Confirmations < 1 || s.Confirmations > 1000 {
			bad("settle.confirmations", "must be 1-1000, got %d", s.Confirmations)
		}
	default:
		bad("settle.backend", "%q is not one of off, embedded, rpc", s.Backend)
	}
}

// isHexAddress accepts 0x and 40 hex digits, not the zero address.
func isHexAddress(s string) bool {
	if len(s) != 42 || (s[:2] != "0x" && s[:2] != "0X") {
		return false
	}
	b, err := hex.DecodeString(s[2:])
	if err != nil {
		return false
	}
	for _, x := range b {
		if x != 0 {
			return true
		}
	}
	return false
}

// checkChainListen accepts 127.0.0.1:port: the embedded chain binds that
// address only.
func checkChainListen(hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q is not host:port such as 127.0.0.1:5103", hostport)
	}
	if host != "127.0.0.1" {
		return fmt.Errorf("%q: the embedded chain listens on 127.0.0.1 only; write 127.0.0.1:%s", hostport, port)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("%q has a bad port", hostport)
	}
	return nil
}

// ChainPort is the port of settle.listen (validated).
func (s Settle) ChainPort() int {
	_, port, _ := net.SplitHostPort(s.Listen)
	p, _ := strconv.Atoi(port)
	return p
}

// checkFault checks [worker.fault]: local profile only, a builtin
// executor to lie with, and sane values.
func checkFault(c Config, bad func(key, format string, args ...any)) error {
	f := c.Worker.Fault
	if c.Profile != ProfileLocal {
		return errors.New(FaultOnlyLocal)
	}
	switch f.Kind {
	case "lazy", "noise", "garbage":
		if f.Group != "" {
			bad("worker.fault.group", "only kind = \"collude\" takes a group, got kind = %q", f.Kind)
		}
	case "collude":
		if f.Group == "" {
			bad("worker.fault.group", "kind = \"collude\" needs a group naming the colluders")
		}
		if f.Seed != nil {
			bad("worker.fault.seed", "kind = \"collude\" draws from its group, not a seed: remove it")
		}
	default:
		bad("worker.fault.kind", "%q is not one of lazy, noise, garbage, collude", f.Kind)
	}
	switch {
	case f.Rate == nil:
		bad("worker.fault.rate", "is required: the share of tasklets to cheat on, 0 to 1")
	case !(*f.Rate >= 0 && *f.Rate <= 1):
		bad("worker.fault.rate", "must be 0 to 1, got %g", *f.Rate)
	}
	if !slices.Contains(c.Worker.Executors, "builtin") {
		bad("worker.fault", "lies about builtin outputs only: add \"builtin\" to worker.executors")
	}
	return nil
}

// checkLoopback accepts host:port only on a loopback address: the API and
// metrics never face the network.
func checkLoopback(hostport string) error {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("%q is not host:port such as 127.0.0.1:5101", hostport)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return fmt.Errorf("%q has a bad port", hostport)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q must be on a loopback address (127.0.0.1 or [::1]): the API is local only", hostport)
	}
	return nil
}

func checkPeerAddr(s string) error {
	a, err := ma.NewMultiaddr(s)
	if err != nil {
		return fmt.Errorf("%q is not a multiaddr: %v", s, err)
	}
	if _, err := a.ValueForProtocol(ma.P_P2P); err != nil {
		return fmt.Errorf("%q lacks the /p2p/<peer-id> part", s)
	}
	return nil
}

// CheckPeerAddr validates a bootstrap or connect address.
func CheckPeerAddr(s string) error { return checkPeerAddr(s) }

// Marshal writes the config as TOML with a comment above every section.
func (c Config) Marshal() ([]byte, error) {
	var body bytes.Buffer
	if err := toml.NewEncoder(&body).Encode(c); err != nil {
		return nil, fmt.Errorf("cannot encode config: %w", err)
	}
	var out bytes.Buffer
	out.WriteString(header)
	section := ""
	for _, line := range strings.Split(body.String(), "\n") {
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "["):
			section = strings.Trim(trim, "[]")
			if note, found := comments[section]; found {
				fmt.Fprintf(&out, "\n# %s\n", note)
			}
		case strings.Contains(trim, " = "):
			key, _, _ := strings.Cut(trim, " = ")
			if section != "" {
				key = section + "." + key
			}
			if note, found := comments[key]; found {
				indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
				fmt.Fprintf(&out, "%s# %s\n", indent, note)
			}
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	return bytes.TrimRight(out.Bytes(), "\n"), nil
}
