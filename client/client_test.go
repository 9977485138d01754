package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"
	"go.uber.org/goleak"

	"github.com/gridswarm/gridswarm/api"
	apiserver "github.com/gridswarm/gridswarm/node/api"
	"github.com/gridswarm/gridswarm/node/repo/endpoint"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "0123456789abcdef0123456789abcdef"

// testService is a "test" namespace served by go-ethereum's RPC server
// behind the daemon's guard, as the daemon serves its own.
type testService struct {
	started     chan struct{} // Block began
	cancelled   chan error    // Block's context error
	unsubscribe chan struct{}
}

func (s *testService) Echo(v string) string                { return v }
func (s *testService) Fail() error                         { return errors.New("no such job") }
func (s *testService) Nothing()                            {}
func (s *testService) Bytes(b hexutil.Bytes) hexutil.Bytes { return b }
func (s *testService) Status() api.Status {
	return api.Status{PeerID: "12D3Koo", Peers: 3, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/1"}}
}

// Block waits for its context, as a long data_get does.
func (s *testService) Block(ctx context.Context) error {
	s.started <- struct{}{}
	<-ctx.Done()
	s.cancelled <- ctx.Err()
	return ctx.Err()
}

// Progress sends n events, then waits until the client unsubscribes.
func (s *testService) Progress(ctx context.Context, n int) (*rpc.Subscription, error) {
	notifier, ok := rpc.NotifierFromContext(ctx)
	if !ok {
		return nil, rpc.ErrNotificationsUnsupported
	}
	sub := notifier.CreateSubscription()
	go func() {
		for i := 1; i <= n; i++ {
			if err := notifier.Notify(sub.ID, api.Progress{Op: "op", Phase: "get", Done: int64(i), Total: int64(n)}); err != nil {
				return
			}
		}
		<-sub.Err()
		s.unsubscribe <- struct{}{}
	}()
	return sub, nil
}

type testDaemon struct {
	svc *testService
	rpc *rpc.Server
	srv *httptest.Server
	ep  endpoint.Endpoint
}

func startDaemon(t *testing.T) *testDaemon {
	t.Helper()
	svc := &testService{started: make(chan struct{}, 1), cancelled: make(chan error, 1), unsubscribe: make(chan struct{}, 1)}
	rs := rpc.NewServer()
	if err := rs.RegisterName("test", svc); err != nil {
		t.Fatalf("RegisterName: %v", err)
	}
	o := apiserver.Options{Token: testToken, MaxBodyBytes: 1 << 20}
	srv := httptest.NewServer(apiserver.Guard(o, rs, rs.WebsocketHandler([]string{"*"})))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		rs.Stop()
	})
	return &testDaemon{svc: svc, rpc: rs, srv: srv, ep: endpoint.Endpoint{
		HTTP: srv.URL, WS: "ws" + strings.TrimPrefix(srv.URL, "http"),
	}}
}

func (d *testDaemon) dial(t *testing.T, token string, ws bool) *Client {
	t.Helper()
	c, err := dialEndpoint(context.Background(), d.ep, token, ws)
	if err != nil {
		t.Fatalf("dialEndpoint: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestCall(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, testToken, false)
	ctx := context.Background()

	var s string
	if err := c.Call(ctx, &s, "test_echo", "héllo \"quoted\""); err != nil || s != "héllo \"quoted\"" {
		t.Errorf("test_echo = %q, %v", s, err)
	}
	var st api.Status
	if err := c.Call(ctx, &st, "test_status"); err != nil || st.Peers != 3 || len(st.ListenAddrs) != 1 {
		t.Errorf("test_status = %+v, %v", st, err)
	}
	if err := c.Call(ctx, nil, "test_nothing"); err != nil {
		t.Errorf("test_nothing: %v", err)
	}
	var b api.HexBytes
	if err := c.Call(ctx, &b, "test_bytes", api.HexBytes{0, 1, 0xfe}); err != nil || string(b) != "\x00\x01\xfe" {
		t.Errorf("test_bytes = %x, %v (api.HexBytes must read and write hexutil.Bytes' JSON)", b, err)
	}

	err := c.Call(ctx, nil, "test_fail")
	var rpcErr *Error
	if !errors.As(err, &rpcErr) || err.Error() != "test_fail: no such job" {
		t.Errorf("test_fail: err = %v, want *Error reading %q", err, "test_fail: no such job")
	}
	if err := c.Call(ctx, nil, "test_nope"); !errors.As(err, &rpcErr) || rpcErr.Code != -32601 {
		t.Errorf("unknown method: err = %v, want JSON-RPC code -32601", err)
	}
}

func TestCallRefusedByGuard(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, strings.Repeat("f", 32), false)
	err := c.Call(context.Background(), nil, "test_nothing")
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "api.token") {
		t.Errorf("wrong token: err = %v, want a 401 HTTPError naming the token file", err)
	}
	if _, err := dialEndpoint(context.Background(), d.ep, strings.Repeat("f", 32), true); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("WebSocket with a wrong token: err = %v, want a 401", err)
	}
}

// TestCallCancel checks that cancelling a call ends the method on the
// daemon too, as Ctrl-C must stop a long data get.
func TestCallCancel(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, testToken, false)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Call(ctx, nil, "test_block") }()
	select {
	case <-d.svc.started:
	case <-time.After(30 * time.Second):
		t.Fatal("test_block did not start")
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call: err = %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the cancelled call did not return")
	}
	select {
	case <-d.svc.cancelled:
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon's method was not cancelled")
	}
}

func TestSubscribe(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, testToken, true)
	const n = 200
	ch := make(chan api.Progress) // unbuffered: the client must queue
	sub, err := c.Subscribe(context.Background(), "test", ch, "progress", n)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	for i := 1; i <= n; i++ {
		select {
		case p := <-ch:
			if p.Done != int64(i) || p.Total != n {
				t.Fatalf("event %d = %+v, want done %d of %d in order", i, p, i, n)
			}
		case err := <-sub.Err():
			t.Fatalf("subscription ended after %d events: %v", i-1, err)
		case <-time.After(30 * time.Second):
			t.Fatalf("event %d did not arrive", i)
		}
	}
	sub.Unsubscribe()
	sub.Unsubscribe() // idempotent
	if _, open := <-sub.Err(); open {
		t.Error("Err's channel still open after Unsubscribe")
	}
	select {
	case <-d.svc.unsubscribe:
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon was not told of the unsubscription")
	}
}

func TestSubscriptionLost(t *testing.T) {
	d := startDaemon(t)
	c := d.dial(t, testToken, true)
	ch := make(chan api.Progress, 1)
	sub, err := c.Subscribe(context.Background(), "test", ch, "progress", 0)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	d.rpc.Stop() // closes the WebSocket, as a daemon that exits does
	select {
	case err := <-sub.Err():
		if err == nil || !strings.Contains(err.Error(), "lost the connection") {
			t.Errorf("Err = %v, want the lost connection", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the subscription did not end when the daemon went away")
	}
	sub.Unsubscribe() // after a failure, still safe
}

func TestSubscribeRefusals(t *testing.T) {
	d := startDaemon(t)
	httpOnly := d.dial(t, testToken, false)
	if _, err := httpOnly.Subscribe(context.Background(), "test", make(chan api.Progress), "progress", 1); err == nil {
		t.Error("Subscribe without a WebSocket succeeded")
	}
	c := d.dial(t, testToken, true)
	if _, err := c.Subscribe(context.Background(), "test", 3, "progress", 1); err == nil {
		t.Error("Subscribe into a non-channel succeeded")
	}
	if _, err := c.Subscribe(context.Background(), "test", make(chan api.Progress), "nope"); err == nil {
		t.Error("Subscribe to an unknown subscription succeeded")
	}
}

// TestSubscriptionEnds checks the two ways a subscription fails on the
// client's side: a notification that does not decode into the channel's
// type, and a reader that falls more than subBuffer events behind.
func TestSubscriptionEnds(t *testing.T) {
	tests := []struct {
		name string
		ch   any
		n    int
		want string
	}{
		{"wrong type", make(chan int), 1, "cannot decode a notification"},
		{"reader too slow", make(chan api.Progress), subBuffer + 100, ErrSubscriptionOverflow.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := startDaemon(t)
			c := d.dial(t, testToken, true)
			sub, err := c.Subscribe(context.Background(), "test", tt.ch, "progress", tt.n)
			if err != nil {
				t.Fatalf("Subscribe: %v", err)
			}
			defer sub.Unsubscribe()
			select {
			case err := <-sub.Err():
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Err = %v, want one mentioning %q", err, tt.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the subscription did not end")
			}
		})
	}
}

func TestDialWithoutDaemon(t *testing.T) {
	tests := []struct {
		name              string
		config            bool
		notRepo, noDaemon bool
	}{
		{name: "never initialised", notRepo: true},
		{name: "initialised, no daemon", config: true, noDaemon: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.config {
				if err := os.WriteFile(filepath.Join(dir, endpoint.ConfigFile), nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Dial(context.Background(), dir, false)
			if err == nil {
				t.Fatal("Dial succeeded without a daemon")
			}
			if IsNotRepo(err) != tt.notRepo || IsNoDaemon(err) != tt.noDaemon {
				t.Errorf("Dial: %v; IsNotRepo %v, IsNoDaemon %v; want %v, %v", err, IsNotRepo(err), IsNoDaemon(err), tt.notRepo, tt.noDaemon)
			}
			if tt.notRepo && !strings.Contains(err.Error(), "gridswarm init") {
				t.Errorf("Dial on a folder without a repo said %q; want it to name `gridswarm init`", err)
			}
		})
	}
}
