package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"reflect"
	"sync/atomic"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/node/repo/endpoint"
)

// NoDaemonError says no daemon serves the repo, and how to start one.
type NoDaemonError struct {
	Repo string
	Err  error
}

func (e *NoDaemonError) Error() string {
	return fmt.Sprintf("no gridswarm daemon is running for %s: start one with `gridswarm daemon` (or `GRIDSWARM_PATH=%s gridswarm daemon`)", e.Repo, e.Repo)
}

func (e *NoDaemonError) Unwrap() error { return e.Err }

// IsNoDaemon reports whether err means no daemon was found.
func IsNoDaemon(err error) bool {
	var nd *NoDaemonError
	return errors.As(err, &nd)
}

// NotRepoError says the folder holds no gridswarm repo at all: it was never
// initialised, so no daemon could run on it either.
type NotRepoError struct {
	Repo string
}

func (e *NotRepoError) Error() string {
	return fmt.Sprintf("%s is not a gridswarm repo: create one with `gridswarm init` (or `GRIDSWARM_PATH=%s gridswarm init`)", e.Repo, e.Repo)
}

// IsNotRepo reports whether err means the folder holds no repo.
func IsNotRepo(err error) bool {
	var nr *NotRepoError
	return errors.As(err, &nr)
}

// Client is a connection to one daemon.
type Client struct {
	Endpoint endpoint.Endpoint
	token    string
	http     *http.Client
	ws       *wsConn // for subscriptions; nil unless asked for
	nextID   atomic.Uint64
}

// Dial connects to the daemon of the repo in dir. It fails with a
// *NotRepoError when dir holds no repo and a *NoDaemonError when no daemon
// runs on it. Calls go over HTTP, so
// the daemon cancels a long operation when the CLI goes away (Ctrl-C); with
// ws true a WebSocket is opened as well, for subscriptions.
func Dial(ctx context.Context, dir string, ws bool) (*Client, error) {
	ep, err := endpoint.Read(dir)
	if err != nil {
		if errors.Is(err, endpoint.ErrStarting) {
			return nil, fmt.Errorf("%s: %w; try again in a moment", dir, err)
		}
		if errors.Is(err, endpoint.ErrNoDaemon) {
			if !endpoint.Initialised(dir) {
				return nil, &NotRepoError{Repo: dir}
			}
			return nil, &NoDaemonError{Repo: dir, Err: err}
		}
		return nil, err
	}
	tok, err := endpoint.Token(dir)
	if err != nil {
		return nil, err
	}
	return dialEndpoint(ctx, ep, tok, ws)
}

func dialEndpoint(ctx context.Context, ep endpoint.Endpoint, token string, ws bool) (*Client, error) {
	c := &Client{Endpoint: ep, token: token, http: &http.Client{}}
	if ws {
		w, err := dialWS(ctx, ep.WS, token)
		if err != nil {
			return nil, fmt.Errorf("cannot reach the daemon at %s: %w", ep.WS, err)
		}
		c.ws = w
	}
	return c, nil
}

// SetDialer makes c's HTTP calls connect through dial, for a daemon whose
// loopback is not this process's (tests: a daemon in a network namespace).
// Call it before the first call; subscriptions are not affected.
func (c *Client) SetDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) {
	c.http = &http.Client{Transport: &http.Transport{DialContext: dial}}
}

// Close releases the connections and ends every subscription.
func (c *Client) Close() {
	if c.ws != nil {
		c.ws.close()
	}
	c.http.CloseIdleConnections()
}

// Call invokes any method; the typed helpers below cover the common ones.
// result, if not nil, receives the answer decoded from JSON. A method's
// error is a *CallError wrapping an *Error; a refusal before any method
// ran wraps an *HTTPError.
func (c *Client) Call(ctx context.Context, result any, method string, args ...any) error {
	if err := c.callHTTP(ctx, result, method, args); err != nil {
		return &CallError{Method: method, Err: err}
	}
	return nil
}

// Subscribe opens a subscription in a namespace:
// <namespace>_subscribe(args...). Each notification is decoded into the
// element type of ch, a channel the caller reads. The client must have been
// dialled with ws true.
func (c *Client) Subscribe(ctx context.Context, namespace string, ch any, args ...any) (*Subscription, error) {
	if c.ws == nil {
		return nil, errors.New("subscriptions need a WebSocket: dial with ws true")
	}
	cv := reflect.ValueOf(ch)
	if cv.Kind() != reflect.Chan || cv.Type().ChanDir()&reflect.SendDir == 0 || cv.IsNil() {
		return nil, fmt.Errorf("subscribe: want a channel to send on, got %T", ch)
	}
	s := &Subscription{
		w: c.ws, namespace: namespace, ch: cv,
		in: make(chan []byte, subBuffer), quit: make(chan struct{}), errc: make(chan error, 1),
	}
	method := namespace + "_subscribe"
	r, err := c.ws.call(ctx, c.ws.ids.Add(1), method, args, s)
	if err != nil {
		return nil, &CallError{Method: method, Err: err}
	}
	if r.Error != nil {
		return nil, &CallError{Method: method, Err: r.Error}
	}
	if s.id == "" {
		return nil, fmt.Errorf("%s: the answer holds no subscription ID", method)
	}
	c.ws.wg.Add(1)
	go s.forward()
	return s, nil
}

// ID calls node_id.
func (c *Client) ID(ctx context.Context) (api.IDInfo, error) {
	var r api.IDInfo
	return r, c.Call(ctx, &r, "node_id")
}

// Version calls node_version.
func (c *Client) Version(ctx context.Context) (api.VersionInfo, error) {
	var r api.VersionInfo
	return r, c.Call(ctx, &r, "node_version")
}

// Status calls node_status.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var r api.Status
	return r, c.Call(ctx, &r, "node_status")
}

// Peers calls peer_list.
func (c *Client) Peers(ctx context.Context) ([]api.Peer, error) {
	var r []api.Peer
	return r, c.Call(ctx, &r, "peer_list")
}

// Connect calls peer_connect.
func (c *Client) Connect(ctx context.Context, addr string) (api.ConnectResult, error) {
	var r api.ConnectResult
	return r, c.Call(ctx, &r, "peer_connect", addr)
}

// Disconnect calls peer_disconnect.
func (c *Client) Disconnect(ctx context.Context, id string) error {
	return c.Call(ctx, nil, "peer_disconnect", id)
}

// Announce calls peer_announce.
func (c *Client) Announce(ctx context.Context, text string) error {
	return c.Call(ctx, nil, "peer_announce", text)
}

// FindPeer calls dht_findPeer.
func (c *Client) FindPeer(ctx context.Context, id string) (api.FoundPeer, error) {
	var r api.FoundPeer
	return r, c.Call(ctx, &r, "dht_findPeer", id)
}

// PutRecord calls dht_putRecord.
func (c *Client) PutRecord(ctx context.Context, name string, data []byte) (api.PutResult, error) {
	var r api.PutResult
	return r, c.Call(ctx, &r, "dht_putRecord", name, api.HexBytes(data))
}

// GetRecord calls dht_getRecord.
func (c *Client) GetRecord(ctx context.Context, id, name string) (api.RecordResult, error) {
	var r api.RecordResult
	return r, c.Call(ctx, &r, "dht_getRecord", id, name)
}

// WithProgress runs call while streaming the progress events of op from
// <namespace>_subscribe("progress", op) to onProgress. The client must have
// been dialled with ws=true.
func (c *Client) WithProgress(ctx context.Context, namespace, op string, onProgress func(api.Progress), call func() error) error {
	ch := make(chan api.Progress, 64)
	sub, err := c.Subscribe(ctx, namespace, ch, "progress", op)
	if err != nil {
		return fmt.Errorf("cannot subscribe to progress: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case p := <-ch:
				onProgress(p)
			case <-sub.Err():
				return
			}
		}
	}()
	err = call()
	sub.Unsubscribe()
	<-done
	return err
}

// VerifyJob returns a job's spot checks and per-worker tally (verify_job).
func (c *Client) VerifyJob(ctx context.Context, id string) (api.VerifyJob, error) {
	var out api.VerifyJob
	return out, c.Call(ctx, &out, "verify_job", id)
}

// VerifyPeer returns a peer's (or payout account's) trust records
// (verify_peer).
func (c *Client) VerifyPeer(ctx context.Context, id string) (api.VerifyPeer, error) {
	var out api.VerifyPeer
	return out, c.Call(ctx, &out, "verify_peer", id)
}

// VerifyPeers returns every trust record the coordinator keeps
// (verify_peers).
func (c *Client) VerifyPeers(ctx context.Context) ([]api.TrustRecord, error) {
	var out []api.TrustRecord
	return out, c.Call(ctx, &out, "verify_peers")
}

// VerifyReport submits an equivocation proof (verify_report): a valid one
// bans the worker and is gossiped; anything else comes back refused.
func (c *Client) VerifyReport(ctx context.Context, proof []byte) (api.ReportResult, error) {
	var out api.ReportResult
	return out, c.Call(ctx, &out, "verify_report", json.RawMessage(proof))
}

// SettleInfo returns the chain this node settles on and what a wallet
// needs to add it and its token (settle_info).
func (c *Client) SettleInfo(ctx context.Context) (api.SettleInfo, error) {
	var out api.SettleInfo
	return out, c.Call(ctx, &out, "settle_info")
}

// SettleBalance returns the token and ether balance of address, or of the
// node's own account when address is empty (settle_balance).
func (c *Client) SettleBalance(ctx context.Context, address string) (api.SettleBalance, error) {
	var out api.SettleBalance
	if address == "" {
		return out, c.Call(ctx, &out, "settle_balance")
	}
	return out, c.Call(ctx, &out, "settle_balance", address)
}

// SettleClaims lists what the node's account is owed, with proofs
// (settle_claims).
func (c *Client) SettleClaims(ctx context.Context) ([]api.SettleClaim, error) {
	var out []api.SettleClaim
	return out, c.Call(ctx, &out, "settle_claims")
}

// SettleClaim claims everything owed now (settle_claim).
func (c *Client) SettleClaim(ctx context.Context) (api.TxResult, error) {
	var out api.TxResult
	return out, c.Call(ctx, &out, "settle_claim")
}

// SettleStake bonds tokens, a decimal number of whole tokens (settle_stake).
func (c *Client) SettleStake(ctx context.Context, tokens string) (api.TxResult, error) {
	var out api.TxResult
	return out, c.Call(ctx, &out, "settle_stake", tokens)
}

// SettleUnstake starts unbonding tokens (settle_unstake).
func (c *Client) SettleUnstake(ctx context.Context, tokens string) (api.TxResult, error) {
	var out api.TxResult
	return out, c.Call(ctx, &out, "settle_unstake", tokens)
}

// SettleWithdraw takes out unbonded stake (settle_withdraw).
func (c *Client) SettleWithdraw(ctx context.Context) (api.TxResult, error) {
	var out api.TxResult
	return out, c.Call(ctx, &out, "settle_withdraw")
}

// SettleStakeOf returns an account's stake, the node's own when address is
// empty (settle_stakeOf).
func (c *Client) SettleStakeOf(ctx context.Context, address string) (api.StakeInfo, error) {
	var out api.StakeInfo
	if address == "" {
		return out, c.Call(ctx, &out, "settle_stakeOf")
	}
	return out, c.Call(ctx, &out, "settle_stakeOf", address)
}

// SettleSend sends tokens and/or ether (decimal, "" for none) to an
// address (settle_send).
func (c *Client) SettleSend(ctx context.Context, to, tokens, ether string) ([]api.TxResult, error) {
	var out []api.TxResult
	return out, c.Call(ctx, &out, "settle_send", to, tokens, ether)
}

// SettleJob returns a paid job's escrow, batches and closing as JSON
// (settle_job).
func (c *Client) SettleJob(ctx context.Context, id string, out any) error {
	return c.Call(ctx, out, "settle_job", id)
}

// SettleReceipt returns a tasklet's accepted receipt as EIP-712 typed data
// (settle_receipt; round 1-based, index 0-based).
func (c *Client) SettleReceipt(ctx context.Context, id string, round, index int) (api.TypedReceipt, error) {
	var out api.TypedReceipt
	return out, c.Call(ctx, &out, "settle_receipt", id, round, index)
}

// SettleRegisterDataset mints a Registry token for a dataset CID to the
// node's account (settle_registerDataset).
func (c *Client) SettleRegisterDataset(ctx context.Context, cid string) (api.DatasetToken, error) {
	var out api.DatasetToken
	return out, c.Call(ctx, &out, "settle_registerDataset", cid)
}

// SettleToken reads a Registry token (settle_token).
func (c *Client) SettleToken(ctx context.Context, id string) (api.RegistryToken, error) {
	var out api.RegistryToken
	return out, c.Call(ctx, &out, "settle_token", id)
}

// SettleEvidence returns what backs a paid job's payouts (settle_evidence).
func (c *Client) SettleEvidence(ctx context.Context, id string) (api.SettleEvidence, error) {
	var out api.SettleEvidence
	return out, c.Call(ctx, &out, "settle_evidence", id)
}
