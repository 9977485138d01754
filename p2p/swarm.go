package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	record "github.com/libp2p/go-libp2p-record"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/cpu"
)

// DHTPrefix makes our DHT protocol /gridswarm/kad/1.0.0, apart from the IPFS DHT.
const DHTPrefix = "/gridswarm"

// Rendezvous is the DHT key under which every daemon advertises itself.
const Rendezvous = "gridswarm/v1"

// Options configure Start. Zero durations take the defaults in brackets.
type Options struct {
	Identity      crypto.PrivKey
	Listen        []string
	Bootstrap     []peer.AddrInfo
	MDNS          bool
	NAT           bool
	ConnLow       int
	ConnHigh      int
	ConnGrace     time.Duration // [20s]
	MaxConns      int
	MaxStreams    int
	MaxMemoryMB   int
	MaxFDs        int
	DHTMode       string        // auto, server, client; see dhtMode
	PingEvery     time.Duration // [15s]
	DiscoverEvery time.Duration // [1m]
	UserAgent     string
	Registerer    prometheus.Registerer // nil: no metrics
	// PeersFile remembers connected peers across restarts ("" = don't).
	PeersFile string
	Logger    *slog.Logger
	// NewHost, when set, builds the host in place of the TCP/QUIC one, for
	// an in-memory network such as internal/worldnet's mocknet; Listen,
	// NAT and the connection and resource limits are then its business.
	// The swarm closes the host it returns.
	NewHost func(identity crypto.PrivKey) (host.Host, error)
}

// Swarm is a running libp2p host with its DHT, pubsub and peer table.
type Swarm struct {
	host   host.Host
	dht    *dht.IpfsDHT
	ps     *pubsub.PubSub
	peers  *PeerTable
	log    *slog.Logger
	opts   Options
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mdns   mdns.Service

	caps      *capsState
	capsServe *rateLimiter // per asker, on CapsProtocol
	lastKnown []string     // last peers written to PeersFile

	pubMu sync.Mutex // serialises publications of the own capability record

	mu       sync.Mutex
	topics   map[string]*Topic
	greeting map[peer.ID]bool // new peers being asked for their record
	greeted  chan struct{}    // closed while greeting is empty
	seq      uint64
	capsSeq  uint64
}

// Start builds the host, joins the DHT and starts the background loops.
// The context bounds only the start; Close stops the swarm.
func Start(ctx context.Context, o Options) (*Swarm, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ConnGrace == 0 {
		o.ConnGrace = 20 * time.Second
	}
	if o.PingEvery == 0 {
		o.PingEvery = 15 * time.Second
	}
	if o.DiscoverEvery == 0 {
		o.DiscoverEvery = time.Minute
	}
	known, err := loadKnownPeers(o.PeersFile)
	if err != nil {
		o.Logger.Warn("ignoring remembered peers", "err", err)
	}
	o.Bootstrap = append(o.Bootstrap, known...)
	var h host.Host
	if o.NewHost != nil {
		h, err = o.NewHost(o.Identity)
		if err != nil {
			err = fmt.Errorf("cannot build the host: %w", err)
		}
	} else {
		h, err = newHost(o)
	}
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Swarm{host: h, log: o.Logger, opts: o, ctx: runCtx, cancel: cancel, topics: map[string]*Topic{},
		greeting: map[peer.ID]bool{}, greeted: make(chan struct{})}
	close(s.greeted)
	fail := func(err error) (*Swarm, error) {
		cancel()
		_ = h.Close()
		return nil, err
	}
	if s.caps, err = newCapsState(); err != nil {
		return fail(err)
	}
	s.peers = newPeerTable(h, s.caps)
	s.capsServe = newRateLimiter(capsServePerSecond, time.Now)
	h.SetStreamHandler(CapsProtocol, s.serveCaps)
	s.dht, err = dht.New(h,
		dht.Mode(dhtMode(o.DHTMode)),
		dht.ProtocolPrefix(DHTPrefix),
		dht.Datastore(dssync.MutexWrap(datastore.NewMapDatastore())),
		dht.Validator(record.NamespacedValidator{
			"pk":            record.PublicKeyValidator{},
			RecordNamespace: RecordValidator{},
		}),
		dht.BootstrapPeers(o.Bootstrap...),
	)
	if err != nil {
		return fail(fmt.Errorf("cannot start the DHT: %w", err))
	}
	s.ps, err = pubsub.NewGossipSub(runCtx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMaxMessageSize(MaxPubsubMessage),
		pubsub.WithPeerExchange(false),
	)
	if err != nil {
		_ = s.dht.Close()
		return fail(fmt.Errorf("cannot start GossipSub: %w", err))
	}
	for _, start := range []func() error{s.startAnnounce, s.startCaps} {
		if err := start(); err != nil {
			_ = s.dht.Close()
			return fail(err)
		}
	}
	h.Network().Notify(s.peers.notifee(runCtx, s))
	if o.MDNS {
		s.mdns = mdns.NewMdnsService(h, "gridswarm", mdnsNotifee{s: s, ctx: runCtx})
		if err := s.mdns.Start(); err != nil {
			s.log.Warn("mDNS discovery unavailable", "err", err)
		}
	}
	s.connectBootstrap(ctx)
	if err := s.dht.Bootstrap(runCtx); err != nil {
		s.log.Warn("DHT bootstrap", "err", err)
	}
	s.wg.Add(2)
	go s.pingLoop(runCtx)
	go s.discoverLoop(runCtx)
	return s, nil
}

// dhtMode maps dht.mode to the DHT's mode. "auto" is ModeAutoServer, not
// ModeAuto: ModeAuto serves only once AutoNAT has confirmed a public
// address, which never happens on a LAN or loopback swarm (and gridswarm
// peers run no AutoNAT service), so a default-profile node that others
// bootstrap to would stay a client and their routing tables empty.
// ModeAutoServer serves from the start and steps down to client only when
// AutoNAT reports the node unreachable.
func dhtMode(s string) dht.ModeOpt {
	switch s {
	case "server":
		return dht.ModeServer
	case "client":
		return dht.ModeClient
	default:
		return dht.ModeAutoServer
	}
}

func newHost(o Options) (host.Host, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	scaled := limits.Scale(int64(o.MaxMemoryMB)<<20, o.MaxFDs)
	explicit := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns:   rcmgr.LimitVal(o.MaxConns),
			Streams: rcmgr.LimitVal(o.MaxStreams),
			Memory:  rcmgr.LimitVal64(int64(o.MaxMemoryMB) << 20),
			FD:      rcmgr.LimitVal(o.MaxFDs),
		},
	}
	var rmOpts []rcmgr.Option
	if o.Registerer != nil {
		rcmgr.MustRegisterWith(o.Registerer)
		rep, err := rcmgr.NewStatsTraceReporter()
		if err != nil {
			return nil, fmt.Errorf("cannot set up resource manager metrics: %w", err)
		}
		rmOpts = append(rmOpts, rcmgr.WithTraceReporter(rep))
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(explicit.Build(scaled)), rmOpts...)
	if err != nil {
		return nil, fmt.Errorf("cannot build the resource manager: %w", err)
	}
	cm, err := connmgr.NewConnManager(o.ConnLow, o.ConnHigh, connmgr.WithGracePeriod(o.ConnGrace))
	if err != nil {
		return nil, fmt.Errorf("swarm.conn_low/conn_high: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(o.Identity),
		// Listen below, one address at a time, so a busy port is an error.
		libp2p.NoListenAddrs,
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		security(fastAES()),
		libp2p.DefaultMuxers,
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.UserAgent(o.UserAgent),
		libp2p.Ping(true),
		libp2p.DisableRelay(),
	}
	if o.NAT {
		opts = append(opts, libp2p.NATPortMap())
	}
	if o.Registerer != nil {
		opts = append(opts, libp2p.PrometheusRegisterer(o.Registerer))
	} else {
		opts = append(opts, libp2p.DisableMetrics())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		_ = rm.Close()
		return nil, fmt.Errorf("cannot start the libp2p host: %w", err)
	}
	for i, s := range o.Listen {
		a, err := ma.NewMultiaddr(s)
		if err == nil {
			err = h.Network().Listen(a)
		}
		if err != nil {
			_ = h.Close()
			return nil, fmt.Errorf("swarm.listen[%d] %s: %w", i, s, err)
		}
	}
	return h, nil
}

// Close stops the loops and the host.
func (s *Swarm) Close() error {
	s.cancel()
	s.wg.Wait()
	var errs []error
	if s.mdns != nil {
		errs = append(errs, s.mdns.Close())
	}
	errs = append(errs, s.dht.Close(), s.host.Close())
	return errors.Join(errs...)
}

// Host is the libp2p host.
func (s *Swarm) Host() host.Host { return s.host }

// DHT is the Kademlia DHT.
func (s *Swarm) DHT() *dht.IpfsDHT { return s.dht }

// PubSub is the GossipSub router.
func (s *Swarm) PubSub() *pubsub.PubSub { return s.ps }

// Peers is the peer table.
func (s *Swarm) Peers() *PeerTable { return s.peers }

// ID is this node's peer ID.
func (s *Swarm) ID() peer.ID { return s.host.ID() }

// Addrs are the listen addresses with /p2p/<id> appended.
func (s *Swarm) Addrs() []string {
	info := peer.AddrInfo{ID: s.host.ID(), Addrs: s.host.Addrs()}
	full, err := peer.AddrInfoToP2pAddrs(&info)
	if err != nil {
		return nil
	}
	out := make([]string, len(full))
	for i, a := range full {
		out[i] = a.String()
	}
	return out
}

// Connect dials a peer by a multiaddr ending in /p2p/<id>.
func (s *Swarm) Connect(ctx context.Context, addr string) (peer.ID, error) {
	a, err := ma.NewMultiaddr(addr)
	if err != nil {
		return "", fmt.Errorf("%q is not a multiaddr: %w", addr, err)
	}
	info, err := peer.AddrInfoFromP2pAddr(a)
	if err != nil {
		return "", fmt.Errorf("%q lacks the /p2p/<peer-id> part: %w", addr, err)
	}
	if info.ID == s.host.ID() {
		return "", errors.New("that address is this node's own")
	}
	if err := s.host.Connect(ctx, *info); err != nil {
		return "", fmt.Errorf("cannot connect to %s: %w", info.ID, err)
	}
	return info.ID, nil
}

// Disconnect closes every connection to a peer.
func (s *Swarm) Disconnect(id peer.ID) error {
	if len(s.host.Network().ConnsToPeer(id)) == 0 {
		return fmt.Errorf("not connected to %s", id)
	}
	return s.host.Network().ClosePeer(id)
}

// FindPeer looks a peer's addresses up in the DHT.
func (s *Swarm) FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	info, err := s.dht.FindPeer(ctx, id)
	if err != nil {
		return peer.AddrInfo{}, fmt.Errorf("cannot find %s in the DHT: %w", id, err)
	}
	return info, nil
}

// RoutingTableSize is the number of peers in the DHT routing table.
func (s *Swarm) RoutingTableSize() int { return s.dht.RoutingTable().Size() }

type mdnsNotifee struct {
	s   *Swarm
	ctx context.Context
}

func (n mdnsNotifee) HandlePeerFound(info peer.AddrInfo) {
	if info.ID == n.s.host.ID() {
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, 10*time.Second)
	defer cancel()
	if err := n.s.host.Connect(ctx, info); err != nil {
		n.s.log.Debug("mDNS peer unreachable", "peer", info.ID, "err", err)
	}
}

// security lists the connection security protocols in the order this
// node proposes them when it dials; it accepts both when dialled. With
// fastAES, TLS 1.3 comes first: its AES-GCM runs on the CPU's AES
// instructions, several times faster than Noise's ChaCha20-Poly1305, which
// was a fifth of a serving daemon's CPU in the fetch profile. Without
// them, ChaCha20 is the faster cipher, and Noise comes first.
func security(fastAES bool) libp2p.Option {
	n := libp2p.Security(noise.ID, noise.New)
	t := libp2p.Security(libp2ptls.ID, libp2ptls.New)
	if fastAES {
		return libp2p.ChainOptions(t, n)
	}
	return libp2p.ChainOptions(n, t)
}

// fastAES reports whether this CPU has AES and carry-less multiplication
// instructions, which Go's AES-GCM uses (the same test crypto/tls makes
// when it orders its cipher suites).
func fastAES() bool {
	return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ ||
		cpu.ARM64.HasAES && cpu.ARM64.HasPMULL ||
		cpu.S390X.HasAES && cpu.S390X.HasAESGCM
}
