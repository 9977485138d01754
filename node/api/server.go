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
	// Sessions enables /login and the dashboard's session cookie; nil
	// accepts the bearer token only.
	Sessions *Sessions
	// UI, if set, serves the dashboard's files under /ui/ (no credentials:
	// they hold no data) and / redirects there.
	UI http.Handler
	// Metrics, if set, is served at /metrics behind the same checks.
	Metrics http.Handler
	// Download, if set, serves GET /download/… (a job's model and
	// provenance) behind the same checks.
	Download http.Handler
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
// must pass, on every path: Host first (DNS rebinding), then Origin, then
// the credentials. The origin check runs before the token check so a
// browser page learns nothing about whether a token it guessed was right.
//
// Credentials are the bearer token (CLI, tools, configured origins over
// CORS) or the dashboard's session cookie. The cookie is honoured only for
// requests from the daemon's own origin: it is SameSite=Strict, and a
// POST or WebSocket upgrade carrying it must also name this origin, so
// no other page can ride on it.
func Guard(o Options, httpH, wsH http.Handler) http.Handler {
	token := []byte(o.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "forbidden: Host must be a loopback address (DNS rebinding protection)", http.StatusForbidden)
			return
		}
		origin := r.Header.Get("Origin")
		self := origin != "" && origin == "http://"+r.Host
		foreign := origin != "" && !self
		if foreign && !slices.Contains(o.AllowedOrigins, origin) {
			http.Error(w, "forbidden: origin "+origin+" is not in api.allowed_origins", http.StatusForbidden)
			return
		}
		if foreign {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			preflight(w, r)
			return
		}
		if o.UI != nil && !isWebsocket(r) && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			switch {
			case r.URL.Path == "/" && r.Header.Get("Authorization") == "":
				http.Redirect(w, r, uiPrefix, http.StatusFound)
				return
			case strings.HasPrefix(r.URL.Path, uiPrefix):
				uiHeaders(w, r)
				http.StripPrefix(strings.TrimSuffix(uiPrefix, "/"), o.UI).ServeHTTP(w, r)
				return
			}
		}
		if o.Sessions != nil && r.URL.Path == "/login" {
			login(o.Sessions, w, r)
			return
		}
		if !authorized(o, token, r, self, origin == "") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gridswarm"`)
			http.Error(w, "unauthorized: send the token from <repo>/api.token as 'Authorization: Bearer <token>', or log in to the dashboard with 'gridswarm dashboard'", http.StatusUnauthorized)
			return
		}
		if o.Sessions != nil && r.URL.Path == "/logout" && r.Method == http.MethodPost {
			logout(o.Sessions, w, r)
			return
		}
		if o.Metrics != nil && r.URL.Path == "/metrics" {
			o.Metrics.ServeHTTP(w, r)
			return
		}
		if o.Download != nil && strings.HasPrefix(r.URL.Path, "/download/") && !isWebsocket(r) {
			w.Header().Set("X-Content-Type-Options", "nosniff")
			o.Download.ServeHTTP(w, r)
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

// uiPrefix is where the dashboard's files are served.
const uiPrefix = "/ui/"

// authorized checks the bearer token, or else the session cookie of a
// request from this daemon's own origin (a plain GET, such as /metrics
// opened in a tab, may come without an Origin header).
func authorized(o Options, token []byte, r *http.Request, self, noOrigin bool) bool {
	if got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		return subtle.ConstantTimeCompare([]byte(got), token) == 1
	}
	if o.Sessions == nil {
		return false
	}
	c, err := r.Cookie(CookieName)
	if err != nil || !o.Sessions.Valid(c.Value) {
		return false
	}
	if self {
		return true
	}
	return noOrigin && r.Method == http.MethodGet && !isWebsocket(r)
}

// preflight answers a CORS preflight without credentials: browsers send
// none. Guard has refused origins that are not allowed already.
func preflight(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Access-Control-Request-Method") == "" {
		http.Error(w, "an OPTIONS request must be a CORS preflight (Access-Control-Request-Method)", http.StatusBadRequest)
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	h.Add("Vary", "Access-Control-Request-Method, Access-Control-Request-Headers")
	w.WriteHeader(http.StatusNoContent)
}

// uiHeaders keep the dashboard's pages to this daemon: its own scripts, its
// own API, no framing, no referrer.
func uiHeaders(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self' ws://"+r.Host+"; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// login exchanges a one-time token (?t=) for a session cookie and
// redirects to the dashboard, so the token leaves the address bar and the
// history at once.
func login(s *Sessions, w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet {
		http.Error(w, "log in with GET /login?t=<one-time token from 'gridswarm dashboard --url'>", http.StatusMethodNotAllowed)
		return
	}
	id, exp, err := s.Redeem(r.URL.Query().Get("t"))
	if err != nil {
		http.Error(w, "unauthorized: "+err.Error(), http.StatusUnauthorized)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, uiPrefix, http.StatusSeeOther)
}

func logout(s *Sessions, w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		s.End(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
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

// LocalOnly guards a listener that needs no token (the metrics port) with
// the Host and Origin checks of Guard: a web page cannot read it, whether
// through DNS rebinding or a cross-origin request.
func LocalOnly(allowedOrigins []string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !loopbackHost(r.Host) {
			http.Error(w, "forbidden: Host must be a loopback address (DNS rebinding protection)", http.StatusForbidden)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && origin != "http://"+r.Host && !slices.Contains(allowedOrigins, origin) {
			http.Error(w, "forbidden: origin "+origin+" is not in api.allowed_origins", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
