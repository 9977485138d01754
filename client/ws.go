package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// subBuffer is how many notifications a subscription holds for a slow
// reader before it fails with ErrSubscriptionOverflow.
const subBuffer = 4096

// ErrSubscriptionOverflow ends a subscription whose reader fell more than
// subBuffer notifications behind.
var ErrSubscriptionOverflow = errors.New("subscription dropped: the reader fell too far behind")

// errClosed fails what is in flight when the client is closed.
var errClosed = errors.New("client closed")

// wsConn is the WebSocket to the daemon, used for subscriptions. One
// goroutine reads: it hands answers to the calls waiting for them and
// notifications to their subscriptions.
type wsConn struct {
	conn *websocket.Conn
	wmu  sync.Mutex // one writer at a time

	mu      sync.Mutex
	pending map[uint64]*pendingCall
	subs    map[string]*Subscription
	err     error // set once the connection is gone
	done    chan struct{}
	wg      sync.WaitGroup // the reader and the subscriptions' forwarders
	ids     atomic.Uint64  // request IDs
}

type pendingCall struct {
	resp chan *response
	sub  *Subscription // registered by the reader on success, before any notification
}

func dialWS(ctx context.Context, url, token string) (*wsConn, error) {
	h := http.Header{}
	h.Set("Authorization", "Bearer "+token)
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	conn, resp, err := d.DialContext(ctx, url, h)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status}
		}
		return nil, err
	}
	conn.SetReadLimit(maxResponse)
	w := &wsConn{conn: conn, pending: map[uint64]*pendingCall{}, subs: map[string]*Subscription{}, done: make(chan struct{})}
	w.wg.Add(1)
	go w.read()
	return w, nil
}

// close ends the connection and everything waiting on it, and returns
// once the reader and every forwarder have stopped.
func (w *wsConn) close() {
	w.fail(errClosed)
	w.wg.Wait()
}

// fail records the connection's end, closes it and fails every pending
// call and subscription with err.
func (w *wsConn) fail(err error) {
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return
	}
	w.err = err
	close(w.done)
	pending, subs := w.pending, w.subs
	w.pending, w.subs = map[uint64]*pendingCall{}, map[string]*Subscription{}
	w.mu.Unlock()
	w.conn.Close()
	for _, p := range pending {
		p.resp <- &response{Error: &Error{Code: -32000, Message: err.Error()}}
	}
	for _, s := range subs {
		s.fail(err)
	}
}

func (w *wsConn) read() {
	defer w.wg.Done()
	for {
		_, b, err := w.conn.ReadMessage()
		if err != nil {
			w.fail(fmt.Errorf("lost the connection to the daemon: %w", err))
			return
		}
		var msgs []response
		if t := strings.TrimLeft(string(b), " \t\r\n"); strings.HasPrefix(t, "[") {
			err = json.Unmarshal(b, &msgs)
		} else {
			msgs = make([]response, 1)
			err = json.Unmarshal(b, &msgs[0])
		}
		if err != nil {
			w.fail(fmt.Errorf("the daemon sent a message that is not JSON-RPC: %w", err))
			return
		}
		for i := range msgs {
			w.dispatch(&msgs[i])
		}
	}
}

// notification is the params of <namespace>_subscription.
type notification struct {
	Subscription string          `json:"subscription"`
	Result       json.RawMessage `json:"result"`
}

func (w *wsConn) dispatch(r *response) {
	if r.Method != "" && len(r.ID) == 0 {
		var n notification
		if !strings.HasSuffix(r.Method, "_subscription") || json.Unmarshal(r.Params, &n) != nil {
			return
		}
		w.mu.Lock()
		s := w.subs[n.Subscription]
		w.mu.Unlock()
		if s != nil {
			s.deliver(n.Result)
		}
		return
	}
	var id uint64
	if json.Unmarshal(r.ID, &id) != nil {
		return
	}
	w.mu.Lock()
	p := w.pending[id]
	delete(w.pending, id)
	if p != nil && p.sub != nil && r.Error == nil {
		if json.Unmarshal(r.Result, &p.sub.id) == nil {
			w.subs[p.sub.id] = p.sub
		}
	}
	w.mu.Unlock()
	if p != nil {
		p.resp <- r
	}
}

// call sends one request and waits for its answer. sub, if set, is
// registered under the subscription ID the answer carries.
func (w *wsConn) call(ctx context.Context, id uint64, method string, args []any, sub *Subscription) (*response, error) {
	p := &pendingCall{resp: make(chan *response, 1), sub: sub}
	w.mu.Lock()
	if w.err != nil {
		w.mu.Unlock()
		return nil, w.err
	}
	w.pending[id] = p
	w.mu.Unlock()
	w.wmu.Lock()
	if dl, ok := ctx.Deadline(); ok {
		_ = w.conn.SetWriteDeadline(dl)
	} else {
		_ = w.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	}
	err := w.conn.WriteJSON(newRequest(id, method, args))
	w.wmu.Unlock()
	if err != nil {
		w.fail(fmt.Errorf("lost the connection to the daemon: %w", err))
		return nil, err
	}
	select {
	case r := <-p.resp:
		return r, nil
	case <-ctx.Done():
		w.mu.Lock()
		delete(w.pending, id)
		w.mu.Unlock()
		return nil, ctx.Err()
	}
}

// Subscription is a stream of notifications from the daemon into a
// channel, opened by Client.Subscribe.
type Subscription struct {
	w         *wsConn
	namespace string
	id        string
	ch        reflect.Value // the caller's channel
	in        chan []byte
	quit      chan struct{} // closed by Unsubscribe
	errc      chan error

	mu    sync.Mutex
	ended bool // failed or unsubscribed: nothing more is sent on errc
	once  sync.Once
}

// Err returns a channel that receives the error that ended the
// subscription (the connection was lost, the reader fell behind). Only one
// value is ever sent; Unsubscribe closes the channel.
func (s *Subscription) Err() <-chan error { return s.errc }

// Unsubscribe ends the subscription and tells the daemon, and closes Err's
// channel. It may be called more than once.
func (s *Subscription) Unsubscribe() {
	s.once.Do(func() {
		s.mu.Lock()
		if !s.ended {
			close(s.quit)
		}
		s.ended = true
		close(s.errc)
		s.mu.Unlock()
		s.w.mu.Lock()
		_, live := s.w.subs[s.id]
		delete(s.w.subs, s.id)
		s.w.mu.Unlock()
		if live {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = s.w.call(ctx, s.w.ids.Add(1), s.namespace+"_unsubscribe", []any{s.id}, nil)
		}
	})
}

// fail ends the subscription with err unless it has ended already.
func (s *Subscription) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	s.errc <- err
	close(s.quit)
}

// deliver queues one notification; a full queue fails the subscription.
func (s *Subscription) deliver(raw []byte) {
	select {
	case s.in <- raw:
	default:
		s.drop()
		s.fail(ErrSubscriptionOverflow)
	}
}

// drop stops routing notifications to s.
func (s *Subscription) drop() {
	s.w.mu.Lock()
	delete(s.w.subs, s.id)
	s.w.mu.Unlock()
}

// forward decodes queued notifications into the caller's channel until
// the subscription ends.
func (s *Subscription) forward() {
	defer s.w.wg.Done()
	elem := s.ch.Type().Elem()
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.quit)},
		{Dir: reflect.SelectSend, Chan: s.ch},
	}
	for {
		var raw []byte
		select {
		case raw = <-s.in:
		case <-s.quit:
			return
		}
		v := reflect.New(elem)
		if err := json.Unmarshal(raw, v.Interface()); err != nil {
			s.drop()
			s.fail(fmt.Errorf("cannot decode a notification as %s: %w", elem, err))
			return
		}
		cases[1].Send = v.Elem()
		if chosen, _, _ := reflect.Select(cases); chosen == 0 {
			return
		}
	}
}
