package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	h := Guard(Options{Token: token, MaxBodyBytes: 1024, AllowedOrigins: []string{"http://wallet.local"}}, ok, ok)
	tests := []struct {
		name   string
		host   string
		origin string
		auth   string
		body   string
		want   int
	}{
		{"good", "127.0.0.1:5101", "", "Bearer " + token, "{}", http.StatusOK},
		{"localhost name", "localhost:5101", "", "Bearer " + token, "{}", http.StatusOK},
		{"ipv6 loopback", "[::1]:5101", "", "Bearer " + token, "{}", http.StatusOK},
		{"allowed origin", "127.0.0.1:5101", "http://wallet.local", "Bearer " + token, "{}", http.StatusOK},
		{"no token", "127.0.0.1:5101", "", "", "{}", http.StatusUnauthorized},
		{"wrong token", "127.0.0.1:5101", "", "Bearer " + strings.Repeat("f", 32), "{}", http.StatusUnauthorized},
		{"basic auth", "127.0.0.1:5101", "", "Basic " + token, "{}", http.StatusUnauthorized},
		{"rebinding host", "evil.example:5101", "", "Bearer " + token, "{}", http.StatusForbidden},
		{"foreign origin", "127.0.0.1:5101", "http://evil.example", "Bearer " + token, "{}", http.StatusForbidden},
		{"oversized", "127.0.0.1:5101", "", "Bearer " + token, strings.Repeat("x", 2048), http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tt.body))
			r.Host = tt.host
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("status = %d, want %d (body %q)", w.Code, tt.want, w.Body.String())
			}
		})
	}
}
