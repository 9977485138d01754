package api

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// browserGuard is Guard as the daemon sets it up for its dashboard.
func browserGuard(t *testing.T) (http.Handler, *Sessions) {
	t.Helper()
	const token = "0123456789abcdef0123456789abcdef"
	s := NewSessions(SessionOptions{})
	named := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(name + ":" + r.URL.Path)) })
	}
	return Guard(Options{Token: token, MaxBodyBytes: 1024, AllowedOrigins: []string{"http://wallet.local"},
		Sessions: s, UI: named("ui"), Metrics: named("metrics")}, named("rpc"), named("ws")), s
}

// loginCookie logs in the way a browser does and returns the cookie.
func loginCookie(t *testing.T, h http.Handler, s *Sessions) *http.Cookie {
	t.Helper()
	tok, _, err := s.MintLogin()
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/login?t="+url.QueryEscape(tok), nil)
	r.Host = "127.0.0.1:5101"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/ui/" {
		t.Fatalf("login: status %d location %q, want 303 to /ui/", w.Code, w.Header().Get("Location"))
	}
	res := w.Result()
	for _, c := range res.Cookies() {
		if c.Name == CookieName {
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, Path=/", c)
			}
			return c
		}
	}
	t.Fatal("login set no session cookie")
	return nil
}

func TestGuardBrowser(t *testing.T) {
	h, s := browserGuard(t)
	cookie := loginCookie(t, h, s)
	const self = "http://127.0.0.1:5101"
	tests := []struct {
		name         string
		method, path string
		host, origin string
		cookie       bool
		ws           bool
		header       map[string]string
		want         int
		wantBody     string
	}{
		{name: "root redirects to the UI", method: "GET", path: "/", want: http.StatusFound},
		{name: "UI files need no login", method: "GET", path: "/ui/app.js", want: 200, wantBody: "ui:/app.js"},
		{name: "UI behind a foreign Host", method: "GET", path: "/ui/", host: "evil.example:5101", want: 403},
		{name: "rpc with the cookie from its own page", method: "POST", path: "/", origin: self, cookie: true, want: 200, wantBody: "rpc:/"},
		{name: "rpc with the cookie but no Origin", method: "POST", path: "/", cookie: true, want: 401},
		{name: "rpc without the cookie", method: "POST", path: "/", origin: self, want: 401},
		{name: "rpc with the cookie from a configured origin", method: "POST", path: "/", origin: "http://wallet.local", cookie: true, want: 401},
		{name: "rpc with the cookie from a foreign origin", method: "POST", path: "/", origin: "http://evil.example", cookie: true, want: 403},
		{name: "rpc with the cookie behind a foreign Host", method: "POST", path: "/", host: "evil.example:5101", origin: "http://evil.example:5101", cookie: true, want: 403},
		{name: "websocket with the cookie", method: "GET", path: "/", origin: self, cookie: true, ws: true, want: 200, wantBody: "ws:/"},
		{name: "websocket with the cookie, no Origin", method: "GET", path: "/", cookie: true, ws: true, want: 401},
		{name: "websocket without the cookie", method: "GET", path: "/", origin: self, ws: true, want: 401},
		{name: "metrics with the cookie in a tab", method: "GET", path: "/metrics", cookie: true, want: 200, wantBody: "metrics:/metrics"},
		{name: "metrics without credentials", method: "GET", path: "/metrics", want: 401},
		{name: "metrics from a foreign origin", method: "GET", path: "/metrics", origin: "http://evil.example", cookie: true, want: 403},
		{name: "metrics behind a foreign Host", method: "GET", path: "/metrics", host: "evil.example", cookie: true, want: 403},
		{name: "metrics with the token", method: "GET", path: "/metrics", header: map[string]string{"Authorization": "Bearer 0123456789abcdef0123456789abcdef"}, want: 200},
		{name: "preflight from a configured origin needs no token", method: "OPTIONS", path: "/", origin: "http://wallet.local",
			header: map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}, want: 204},
		{name: "preflight from a foreign origin", method: "OPTIONS", path: "/", origin: "http://evil.example",
			header: map[string]string{"Access-Control-Request-Method": "POST"}, want: 403},
		{name: "OPTIONS that is no preflight", method: "OPTIONS", path: "/", origin: "http://wallet.local", want: 400},
		{name: "configured origin with the token", method: "POST", path: "/", origin: "http://wallet.local",
			header: map[string]string{"Authorization": "Bearer 0123456789abcdef0123456789abcdef"}, want: 200},
		{name: "login with a made-up token", method: "GET", path: "/login?t=abc", want: 401},
		{name: "login by POST", method: "POST", path: "/login", want: 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, strings.NewReader(""))
			r.Host = "127.0.0.1:5101"
			if tt.host != "" {
				r.Host = tt.host
			}
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.cookie {
				r.AddCookie(cookie)
			}
			if tt.ws {
				r.Header.Set("Upgrade", "websocket")
				r.Header.Set("Connection", "Upgrade")
			}
			for k, v := range tt.header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Fatalf("status = %d, want %d (body %q)", w.Code, tt.want, w.Body.String())
			}
			if tt.wantBody != "" && w.Body.String() != tt.wantBody {
				t.Errorf("body = %q, want %q", w.Body.String(), tt.wantBody)
			}
		})
	}
}

func TestCORSHeaders(t *testing.T) {
	h, _ := browserGuard(t)
	r := httptest.NewRequest(http.MethodOptions, "/", nil)
	r.Host = "127.0.0.1:5101"
	r.Header.Set("Origin", "http://wallet.local")
	r.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	want := map[string]string{
		"Access-Control-Allow-Origin":  "http://wallet.local",
		"Access-Control-Allow-Methods": "POST, GET, OPTIONS",
		"Access-Control-Allow-Headers": "Authorization, Content-Type",
	}
	for k, v := range want {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got := w.Header().Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("Access-Control-Allow-Credentials = %q: configured origins use the token, never the cookie", got)
	}
}

func TestUIHeaders(t *testing.T) {
	h, _ := browserGuard(t)
	r := httptest.NewRequest(http.MethodGet, "/ui/", nil)
	r.Host = "127.0.0.1:5101"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	csp := w.Header().Get("Content-Security-Policy")
	for _, part := range []string{"default-src 'self'", "frame-ancestors 'none'", "connect-src 'self' ws://127.0.0.1:5101"} {
		if !strings.Contains(csp, part) {
			t.Errorf("CSP %q lacks %q", csp, part)
		}
	}
}

func TestLogout(t *testing.T) {
	h, s := browserGuard(t)
	c := loginCookie(t, h, s)
	r := httptest.NewRequest(http.MethodPost, "/logout", nil)
	r.Host = "127.0.0.1:5101"
	r.Header.Set("Origin", "http://127.0.0.1:5101")
	r.AddCookie(c)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("logout: status %d", w.Code)
	}
	if s.Valid(c.Value) {
		t.Fatal("session still valid after logout")
	}
}

func TestLocalOnly(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := LocalOnly(nil, ok)
	tests := []struct {
		host, origin string
		want         int
	}{
		{"127.0.0.1:9100", "", 200},
		{"evil.example:9100", "", 403},
		{"127.0.0.1:9100", "http://evil.example", 403},
		{"127.0.0.1:9100", "http://127.0.0.1:9100", 200},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		r.Host = tt.host
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("host %q origin %q: status %d, want %d", tt.host, tt.origin, w.Code, tt.want)
		}
	}
}
