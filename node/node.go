package node

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gridswarm/gridswarm/dashboard"
	"github.com/gridswarm/gridswarm/datagrid"
	"github.com/gridswarm/gridswarm/internal/units"
	"github.com/gridswarm/gridswarm/metrics"
	"github.com/gridswarm/gridswarm/node/api"
	"github.com/gridswarm/gridswarm/node/repo"
	"github.com/gridswarm/gridswarm/p2p"
	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/scheduler"
	"github.com/gridswarm/gridswarm/scheduler/measure"
	"github.com/gridswarm/gridswarm/verify"
	"github.com/gridswarm/gridswarm/worker"
)

// Options configure New.
type Options struct {
	Repo       *repo.Repo
	Passphrase string
	// Bootstrap adds peers to those in config (the --bootstrap flag).
	Bootstrap []string
	Logger    *slog.Logger
	// LogLevel is the level of Logger's handler, for node_logLevel and
	// node_setLogLevel; nil leaves the level fixed.
	LogLevel *slog.LevelVar
	// Shutdown asks the process to stop cleanly (node_shutdown); it must
	// not block. Nil refuses node_shutdown.
	Shutdown func()
	// NewHost builds the libp2p host in place of swarm.listen's, for tests
	// on an in-memory network (internal/worldnet); nil in the daemon.
	NewHost func(identity crypto.PrivKey) (host.Host, error)
}

// Node is a running daemon.
type Node struct {
	repo    *repo.Repo
	log     *slog.Logger
	swarm   *p2p.Swarm
	api     *api.Server
	metrics *http.Server
	grid    *datagrid.Grid
	coord   *scheduler.Coordinator
	measure *measure.Table   // the coordinator's observations of peers
	trust   *scheduler.Trust // the coordinator's spot-check records of peers
	// equivocation is the joined proof topic; nil until joined.
	equivocation atomic.Pointer[p2p.Topic]
	jobs         *scheduler.Store // for the quarantined files in node_status
	jobEvents    *hub[scheduler.Event]
	worker       *worker.Worker
	domain       receipt.Domain
	settle       *settlement // nil when settle.backend is off
	settleEvents *hub[SettleEvent]
	settleTopic  atomic.Pointer[p2p.Topic] // payout notices; nil until joined
	claims       *claims                   // payouts owed to this node; nil when settle is off
	stopSettle   context.CancelFunc
	renotice     *renoticeBox   // payout notices to gossip again; nil until settle starts
	bg           sync.WaitGroup // the claimer
	progress     *progressHub
	started      time.Time
	account      common.Address
	reg          *prometheus.Registry
	metricSet    *metrics.Set
	sessions     *api.Sessions // the dashboard's logins
	logLevel     *slog.LevelVar
	shutdown     func()
}

// New starts every part of the daemon and writes the endpoint file last, so
// a CLI that finds the file finds a daemon ready to answer.
func New(ctx context.Context, o Options) (_ *Node, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := o.Repo.Config
	n := &Node{repo: o.Repo, log: o.Logger, started: time.Now(), reg: prometheus.NewRegistry(), progress: newProgressHub(), logLevel: o.LogLevel, shutdown: o.Shutdown}
	defer func() {
		if err != nil {
			n.Close(context.Background())
		}
	}()
	key, err := o.Repo.Identity(o.Passphrase)
	if err != nil {
		return nil, err
	}
	// The Ethereum key is first needed by the settlement and the worker:
	// unlock it on another core while the swarm and the data grid start,
	// rather than pay a second scrypt before them. The GC first, so its
	// scrypt reuses the identity's freed buffer instead of doubling the peak.
	runtime.GC()
	ethKey := unlockEthKey(o.Repo.Dir, o.Passphrase)
	defer func() {
		if err != nil {
			_, _ = ethKey() // no unlock outlives a failed start
		}
	}()
	if n.account, err = repo.Account(o.Repo.Dir); err != nil {
		return nil, err
	}
	boot, err := p2p.ParseAddrInfos(append(append([]string{}, cfg.Swarm.Bootstrap...), o.Bootstrap...))
	if err != nil {
		return nil, fmt.Errorf("--bootstrap: %w", err)
	}
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if n.metricSet, err = n.newMetrics(); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	n.swarm, err = p2p.Start(ctx, p2p.Options{
		Identity:      key,
		Listen:        cfg.Swarm.Listen,
		Bootstrap:     boot,
		MDNS:          cfg.Swarm.MDNS,
		NAT:           cfg.Swarm.NAT,
		ConnLow:       cfg.Swarm.ConnLow,
		ConnHigh:      cfg.Swarm.ConnHigh,
		ConnGrace:     cfg.Swarm.ConnGrace.Duration,
		MaxConns:      cfg.Swarm.MaxConns,
		MaxStreams:    cfg.Swarm.MaxStreams,
		MaxMemoryMB:   cfg.Swarm.MaxMemoryMB,
		MaxFDs:        cfg.Swarm.MaxFDs,
		DHTMode:       cfg.DHT.Mode,
		PingEvery:     cfg.Swarm.PingEvery.Duration,
		DiscoverEvery: cfg.Swarm.DiscoverEvery.Duration,
		UserAgent:     UserAgent(),
		Registerer:    n.reg,
		PeersFile:     filepath.Join(o.Repo.Dir, "peers.json"),
		Logger:        o.Logger.With("part", "p2p"),
		NewHost:       o.NewHost,
	})
	if err != nil {
		return nil, err
	}
	n.grid, err = datagrid.Open(ctx, datagrid.Config{
		Dir:               filepath.Join(o.Repo.Dir, "datagrid"),
		QuotaBytes:        uint64(cfg.Datagrid.QuotaGiB * (1 << 30)),
		Host:              n.swarm.Host(),
		Routing:           n.swarm.DHT(),
		ReprovideInterval: cfg.Datagrid.ReprovideInterval.Duration,
		Logger:            o.Logger.With("part", "datagrid"),
		Metrics:           n.metricSet.Data,
	})
	if err != nil {
		return nil, err
	}
	eth, err := ethKey()
	if err != nil {
		return nil, err
	}
	// Each scrypt unlock leaves up to 256 MiB of garbage; give it back once
	// both are done rather than carry it for minutes.
	debug.FreeOSMemory()
	// The chain comes before the worker and coordinator: receipts are
	// signed in its domain.
	if n.settle, err = openSettlement(ctx, cfg.Settle, o.Repo.Dir, eth, o.Logger.With("part", "settle")); err != nil {
		return nil, err
	}
	n.domain = receiptDomain(n.settle, cfg.Settle)
	quota := uint64(cfg.Datagrid.QuotaGiB * (1 << 30))
	wcfg := workerConfig(cfg.Worker)
	if mp := cfg.Worker.MinPrice; mp != "" && mp != "0" {
		if n.settle == nil {
			return nil, fmt.Errorf("config worker.min_price %q: prices are in the settlement token, and settle.backend is off: set it, or clear worker.min_price", mp)
		}
		if wcfg.MinPrice, err = units.ParseTokens(mp, n.settle.token.Decimals); err != nil {
			return nil, fmt.Errorf("config worker.min_price: %w", err)
		}
	}
	n.worker, err = worker.Start(ctx, wcfg, worker.Deps{
		Swarm: n.swarm, Grid: n.grid, EthKey: eth, Domain: n.domain, RepoDir: o.Repo.Dir,
		GridQuota: quota, Agent: UserAgent(), Logger: o.Logger.With("part", "worker"),
		Metrics: n.metricSet.Worker,
	})
	if err != nil {
		return nil, fmt.Errorf("config [worker]: %w", err)
	}
	store, err := scheduler.OpenStore(filepath.Join(o.Repo.Dir, "jobs"), scheduler.StoreOptions{Logger: o.Logger.With("part", "jobs")})
	if err != nil {
		return nil, err
	}
	n.jobs = store
	n.jobEvents = newHub[scheduler.Event]()
	n.measure = loadMeasure(filepath.Join(o.Repo.Dir, measureFile), o.Logger)
	n.trust = loadTrust(filepath.Join(o.Repo.Dir, trustFile), o.Logger)
	n.trust.OnChange(func(before, after verify.Record) {
		if after.Offences > before.Offences {
			n.metricSet.Verify.Ban()
		}
	})
	tracker := newJobTracker(n.metricSet.Jobs, n.metricSet.Verify, func(id string) (*scheduler.Job, error) { return n.coord.Get(id) })
	var pay scheduler.Payer
	if n.settle != nil {
		pay = payer{n}
	}
	n.settleEvents = newHub[SettleEvent]()
	n.coord = scheduler.New(store, coordGrid{g: n.grid, h: n.swarm.Host()}, coordSwarm{n}, scheduler.Options{
		Payer:   pay,
		Measure: n.measure,
		Trust:   n.trust,
		Domain:  n.domain,
		OnEquivocation: func(p verify.Proof) {
			if err := n.gossipProof(context.Background(), p); err != nil {
				n.log.Warn("cannot gossip an equivocation proof", "err", err)
			}
			if n.settle != nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				if _, err := n.slash(ctx, p); err != nil {
					n.log.Warn("cannot slash an equivocating worker", "worker", p.A.Worker, "err", err)
				}
			}
		},
		BenchmarkParams: p2p.ThroughputParams,
		Placement:       cfg.Coordinator.Placement,
		Limits: scheduler.Limits{
			CoordinatorMemory:  cfg.Coordinator.MemoryLimit(n.worker.Status().Probe.MemoryTotal),
			CoordinatorStorage: quota,
			KeepRounds:         cfg.Coordinator.KeepRounds,
		},
		Logger: o.Logger.With("part", "scheduler"),
		OnEvent: func(ev scheduler.Event) {
			tracker.observe(ev)
			n.jobEvents.publish(ev.JobID, ev)
		},
	})
	if err := n.startEquivocation(); err != nil {
		return nil, err
	}
	if n.settle != nil {
		threshold, err := units.ParseTokens(cfg.Settle.ClaimThreshold, n.settle.token.Decimals)
		if err != nil {
			return nil, fmt.Errorf("config settle.claim_threshold: %w", err)
		}
		if err := n.startSettle(context.Background(), threshold); err != nil {
			return nil, err
		}
	}
	if err := n.coord.Resume(); err != nil {
		return nil, err
	}
	n.registerMetrics()
	metricsAddr := ""
	if cfg.Metrics.Enabled {
		if metricsAddr, err = n.serveMetrics(cfg.Metrics.Listen); err != nil {
			return nil, err
		}
	}
	token, err := repo.Token(o.Repo.Dir)
	if err != nil {
		return nil, err
	}
	n.sessions = api.NewSessions(api.SessionOptions{})
	n.api, err = api.Listen(api.Options{
		Addr:           cfg.API.Listen,
		Token:          token,
		MaxBodyBytes:   cfg.API.MaxBodyBytes,
		AllowedOrigins: cfg.API.AllowedOrigins,
		Services:       n.services(),
		Sessions:       n.sessions,
		UI:             dashboard.Handler(),
		Metrics:        n.metricsHandler(),
		Download:       n.downloadHandler(),
	})
	if err != nil {
		return nil, err
	}
	ep := repo.Endpoint{
		PID:    os.Getpid(),
		PeerID: n.swarm.ID().String(),
		HTTP:   "http://" + n.api.Addr(),
		WS:     "ws://" + n.api.Addr(),
		Swarm:  n.swarm.Addrs(),
	}
	if metricsAddr != "" {
		ep.Metrics = "http://" + metricsAddr + "/metrics"
	}
	if err := o.Repo.WriteEndpoint(ep); err != nil {
		return nil, err
	}
	n.log.Info("daemon ready", "peer", n.swarm.ID(), "api", ep.HTTP, "swarm", ep.Swarm, "metrics", ep.Metrics)
	return n, nil
}

// unlockEthKey decrypts dir's Ethereum key in the background; the function
// it returns waits for the result (and may be called more than once).
func unlockEthKey(dir, passphrase string) func() (*ecdsa.PrivateKey, error) {
	done := make(chan struct{})
	var key *ecdsa.PrivateKey
	var err error
	go func() {
		defer close(done)
		key, err = repo.EthKey(dir, passphrase)
	}()
	return func() (*ecdsa.PrivateKey, error) {
		<-done
		return key, err
	}
}

func (n *Node) services() map[string]any {
	return map[string]any{
		"node":    &NodeService{n: n},
		"peer":    &PeerService{n: n},
		"dht":     &DHTService{n: n},
		"data":    &DataService{n: n},
		"worker":  &WorkerService{n: n},
		"tasklet": &TaskletService{n: n},
		"job":     &JobService{n: n},
		"verify":  &VerifyService{n: n},
		"settle":  &SettleService{n: n},
	}
}

func (n *Node) registerMetrics() {
	n.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gridswarm_peers_connected", Help: "Peers with a live connection."},
			func() float64 { return float64(n.swarm.Peers().ConnectedCount()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gridswarm_dht_routing_table_size", Help: "Peers in the DHT routing table."},
			func() float64 { return float64(n.swarm.RoutingTableSize()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gridswarm_uptime_seconds", Help: "Seconds since the daemon started."},
			func() float64 { return time.Since(n.started).Seconds() }),
	)
}

func (n *Node) serveMetrics(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("metrics.listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", n.metricsHandler())
	n.metrics = &http.Server{Handler: api.LocalOnly(n.repo.Config.API.AllowedOrigins, mux), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = n.metrics.Serve(ln) }()
	return ln.Addr().String(), nil
}

// Swarm is the node's libp2p layer.
func (n *Node) Swarm() *p2p.Swarm { return n.swarm }

// Close stops everything New started, in reverse order.
func (n *Node) Close(ctx context.Context) error {
	var errs []error
	if n.api != nil {
		errs = append(errs, n.api.Close(ctx))
	}
	if n.metrics != nil {
		errs = append(errs, n.metrics.Shutdown(ctx))
	}
	if n.coord != nil {
		n.coord.Close()
		errs = append(errs, saveMeasure(filepath.Join(n.repo.Dir, measureFile), n.measure))
	}
	if n.worker != nil {
		errs = append(errs, n.worker.Close(ctx))
	}
	if n.stopSettle != nil {
		n.stopSettle()
	}
	n.bg.Wait()
	if n.settle != nil {
		errs = append(errs, n.settle.close())
	}
	if n.grid != nil {
		errs = append(errs, n.grid.Close())
	}
	if n.swarm != nil {
		errs = append(errs, n.swarm.Close())
	}
	return errors.Join(errs...)
}
