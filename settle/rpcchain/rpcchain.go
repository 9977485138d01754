package rpcchain

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/gridswarm/gridswarm/settle"
)

// Config configures a connection. Zero optional fields take the defaults
// their comments name.
type Config struct {
	URL           string        // http(s):// or ws(s)://
	ChainID       uint64        // required: the chain the endpoint must serve
	Confirmations uint64        // blocks on top of a transaction's, itself included (default 1)
	PollInterval  time.Duration // between receipt and head polls (default 500ms)
	Timeout       time.Duration // Confirm's limit when its context has none (default 10m)
	// MaxResponseBytes caps one response (default 32 MiB): a misbehaving
	// endpoint cannot make us buffer without bound.
	MaxResponseBytes int64
}

// Chain is a settle.Chain over a JSON-RPC endpoint.
type Chain struct {
	*ethclient.Client
	cfg     Config
	chainID *big.Int
}

var _ settle.Chain = (*Chain)(nil)

// Dial connects to cfg.URL and checks that it serves cfg.ChainID.
func Dial(ctx context.Context, cfg Config) (*Chain, error) {
	if cfg.ChainID == 0 {
		return nil, errors.New("rpc chain: no chain ID configured; set the ID of the chain the endpoint serves")
	}
	if cfg.Confirmations == 0 {
		cfg.Confirmations = 1
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 500 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Minute
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 32 << 20
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("rpc chain: %q is not an endpoint URL; use http://host:port or ws://host:port", cfg.URL)
	}
	var opts []rpc.ClientOption
	switch u.Scheme {
	case "http", "https":
		opts = append(opts, rpc.WithHTTPClient(&http.Client{Transport: limitTransport{http.DefaultTransport, cfg.MaxResponseBytes}}))
	case "ws", "wss":
		opts = append(opts, rpc.WithWebsocketMessageSizeLimit(cfg.MaxResponseBytes))
	default:
		return nil, fmt.Errorf("rpc chain: unsupported scheme %q in %s; use http, https, ws or wss", u.Scheme, cfg.URL)
	}
	rc, err := rpc.DialOptions(ctx, cfg.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("rpc chain: cannot connect to %s: %w", cfg.URL, err)
	}
	client := ethclient.NewClient(rc)
	id, err := client.ChainID(ctx)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("rpc chain: cannot read the chain ID of %s: %w", cfg.URL, err)
	}
	if id.Cmp(new(big.Int).SetUint64(cfg.ChainID)) != 0 {
		client.Close()
		return nil, fmt.Errorf("rpc chain: %s serves chain %v, configuration says %d: point it at the right chain or fix the chain ID", cfg.URL, id, cfg.ChainID)
	}
	return &Chain{Client: client, cfg: cfg, chainID: id}, nil
}

// ChainID returns the chain's ID (checked at Dial).
func (c *Chain) ChainID() *big.Int { return new(big.Int).Set(c.chainID) }

// Confirm waits until tx is mined with cfg.Confirmations blocks (its own
// included) on the canonical chain, and returns its receipt. Lookup errors
// are retried (a node still indexing, an endpoint restarting) until ctx
// ends, or cfg.Timeout passes when ctx has no deadline; the last one is
// reported.
func (c *Chain) Confirm(ctx context.Context, tx common.Hash) (*types.Receipt, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
	}
	tick := time.NewTicker(c.cfg.PollInterval)
	defer tick.Stop()
	var last error
	for {
		rec, err := c.TransactionReceipt(ctx, tx)
		if err == nil {
			rec, err = c.confirmed(ctx, rec)
			if rec != nil {
				return rec, nil
			}
		}
		if err != nil && !errors.Is(err, ethereum.NotFound) {
			last = err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if last != nil {
				return nil, fmt.Errorf("waiting for transaction %s: %w (last error: %v)", tx, ctx.Err(), last)
			}
			return nil, fmt.Errorf("waiting for transaction %s: %w", tx, ctx.Err())
		}
	}
}

// confirmed returns rec if it has enough confirmations and its block is
// still canonical, nil if not yet.
func (c *Chain) confirmed(ctx context.Context, rec *types.Receipt) (*types.Receipt, error) {
	head, err := c.BlockNumber(ctx)
	if err != nil {
		return nil, fmt.Errorf("cannot read the head: %w", err)
	}
	if head+1 < rec.BlockNumber.Uint64()+c.cfg.Confirmations {
		return nil, nil
	}
	h, err := c.HeaderByNumber(ctx, rec.BlockNumber)
	if err != nil {
		return nil, fmt.Errorf("cannot read block %v: %w", rec.BlockNumber, err)
	}
	if h.Hash() != rec.BlockHash {
		return nil, nil // reorganised away: wait for it to be mined again
	}
	return rec, nil
}

// limitTransport fails a response body that grows past max bytes.
type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

type limitedBody struct {
	rc        io.ReadCloser
	left, max int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// At the limit: the body may end here, or it is too long.
		var one [1]byte
		m, err := b.rc.Read(one[:])
		if m > 0 {
			return 0, fmt.Errorf("rpc chain: response over the %d byte limit", b.max)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
