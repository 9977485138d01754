package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
)

// Options configure Listen.
type Options struct {
	Addr           string // host:port on loopback; port 0 picks a free one
	Token          string
	MaxBodyBytes   int
	AllowedOrigins []string
	// Services maps a namespace (node, peer, …) to its receiver.
	Services map[string]any
}

// Server is the running JSON-RPC server.
type Server struct {
	rpc  *rpc.Server
	http *http.Server
	ln   net.Listener
	done chan error
}

// Listen registers the services and starts serving.
func Listen(o Options) (*Server, error) {
	if len(o.Token) < 32 {
		return nil, errors.New("api: the token is missing or too short")
	}
	srv := rpc.NewServer()
	srv.SetHTTPBodyLimit(o.MaxBodyBytes)
	srv.SetWebsocketReadLimit(int64(o.MaxBodyBytes))
	srv.SetBatchLimits(100, o.MaxBodyBytes*4)
	for ns, recv := range o.Services {
		if err := srv.RegisterName(ns, recv); err != nil {
			return nil, fmt.Errorf("api: cannot register namespace %s: %w", ns, err)
		}
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("api.listen %s: %w", o.Addr, err)
	}
	s := &Server{rpc: srv, ln: ln, done: make(chan error, 1)}
	s.http = &http.Server{
		Handler:           Guard(o, srv, srv.WebsocketHandler([]string{"*"})),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	go func() { s.done <- s.http.Serve(ln) }()
	return s, nil
}

// Addr is the address actually listened on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, waiting for requests in flight up to ctx.
func (s *Server) Close(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.rpc.Stop()
	if serveErr := <-s.done; serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}

// Guard wraps the HTTP and WebSocket handlers with the checks every request
// must pass. The origin check runs before the token check so a browser page
// learns nothing about whether a token it guessed was right.
func Guard(o Options, httpH, wsH http.Handler) http.Handler {
	token := []byte(o.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "forbidden: Host must be a loopback address (DNS rebinding protection)", http.StatusForbidden)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !slices.Contains(o.AllowedOrigins, origin) {
			http.Error(w, "forbidden: origin "+origin+" is not in api.allowed_origins", http.StatusForbidden)
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), token) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gridswarm"`)
			http.Error(w, "unauthorized: send the token from <repo>/api.token as 'Authorization: Bearer <token>'", http.StatusUnauthorized)
			return
		}
		if isWebsocket(r) {
			wsH.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > int64(o.MaxBodyBytes) {
			http.Error(w, fmt.Sprintf("request body of %d bytes exceeds api.max_body_bytes (%d)", r.ContentLength, o.MaxBodyBytes), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, int64(o.MaxBodyBytes))
		httpH.ServeHTTP(w, r)
	})
}

func isWebsocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") &&
		strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade")
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
