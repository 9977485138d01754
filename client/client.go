package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/gridswarm/gridswarm/node"
	"github.com/gridswarm/gridswarm/node/repo"
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

// Client is a connection to one daemon.
type Client struct {
	rpc      *rpc.Client // HTTP: a call's context is cancelled if we go away
	ws       *rpc.Client // WebSocket, for subscriptions; nil unless asked for
	Endpoint repo.Endpoint
}

// Dial connects to the daemon of the repo in dir. Calls go over HTTP, so
// the daemon cancels a long operation when the CLI goes away (Ctrl-C); with
// ws true a WebSocket is opened as well, for subscriptions.
func Dial(ctx context.Context, dir string, ws bool) (*Client, error) {
	ep, err := repo.ReadEndpoint(dir)
	if err != nil {
		if errors.Is(err, repo.ErrStarting) {
			return nil, fmt.Errorf("%s: %w; try again in a moment", dir, err)
		}
		if errors.Is(err, repo.ErrNoDaemon) {
			return nil, &NoDaemonError{Repo: dir, Err: err}
		}
		return nil, err
	}
	tok, err := repo.Token(dir)
	if err != nil {
		return nil, err
	}
	auth := rpc.WithHeader("Authorization", "Bearer "+tok)
	c, err := rpc.DialOptions(ctx, ep.HTTP, auth, rpc.WithHTTPClient(&http.Client{}))
	if err != nil {
		return nil, fmt.Errorf("cannot reach the daemon at %s: %w", ep.HTTP, err)
	}
	cl := &Client{rpc: c, Endpoint: ep}
	if ws {
		if cl.ws, err = rpc.DialOptions(ctx, ep.WS, auth); err != nil {
			c.Close()
			return nil, fmt.Errorf("cannot reach the daemon at %s: %w", ep.WS, err)
		}
	}
	return cl, nil
}

// Close releases the connections.
func (c *Client) Close() {
	c.rpc.Close()
	if c.ws != nil {
		c.ws.Close()
	}
}

// Call invokes any method; the typed helpers below cover the common ones.
func (c *Client) Call(ctx context.Context, result any, method string, args ...any) error {
	if err := c.rpc.CallContext(ctx, result, method, args...); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	return nil
}

// Subscribe opens a subscription in a namespace; the client must have been
// dialled with ws true.
func (c *Client) Subscribe(ctx context.Context, namespace string, ch any, args ...any) (*rpc.ClientSubscription, error) {
	if c.ws == nil {
		return nil, errors.New("subscriptions need a WebSocket: dial with ws true")
	}
	return c.ws.Subscribe(ctx, namespace, ch, args...)
}

// ID calls node_id.
func (c *Client) ID(ctx context.Context) (node.IDInfo, error) {
	var r node.IDInfo
	return r, c.Call(ctx, &r, "node_id")
}

// Version calls node_version.
func (c *Client) Version(ctx context.Context) (node.VersionInfo, error) {
	var r node.VersionInfo
	return r, c.Call(ctx, &r, "node_version")
}

// Status calls node_status.
func (c *Client) Status(ctx context.Context) (node.Status, error) {
	var r node.Status
	return r, c.Call(ctx, &r, "node_status")
}

// Peers calls peer_list.
func (c *Client) Peers(ctx context.Context) ([]node.Peer, error) {
	var r []node.Peer
	return r, c.Call(ctx, &r, "peer_list")
}

// Connect calls peer_connect.
func (c *Client) Connect(ctx context.Context, addr string) (node.ConnectResult, error) {
	var r node.ConnectResult
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
func (c *Client) FindPeer(ctx context.Context, id string) (node.FoundPeer, error) {
	var r node.FoundPeer
	return r, c.Call(ctx, &r, "dht_findPeer", id)
}

// PutRecord calls dht_putRecord.
func (c *Client) PutRecord(ctx context.Context, name string, data []byte) (node.PutResult, error) {
	var r node.PutResult
	return r, c.Call(ctx, &r, "dht_putRecord", name, hexutil.Bytes(data))
}

// GetRecord calls dht_getRecord.
func (c *Client) GetRecord(ctx context.Context, id, name string) (node.RecordResult, error) {
	var r node.RecordResult
	return r, c.Call(ctx, &r, "dht_getRecord", id, name)
}

// WithProgress runs call while streaming the progress events of op from
// <namespace>_subscribe("progress", op) to onProgress. The client must have
// been dialled with ws=true.
func (c *Client) WithProgress(ctx context.Context, namespace, op string, onProgress func(node.Progress), call func() error) error {
	ch := make(chan node.Progress, 64)
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
