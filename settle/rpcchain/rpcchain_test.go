package rpcchain

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A fake endpoint answering eth_chainId with a fixed ID.
func chainIDServer(t *testing.T, id string, pad int) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, 1<<16))
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"jsonrpc":"2.0","id":1,"result":"`+id+`"`+strings.Repeat(" ", pad)+`}`)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestDialChecksChainAndInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	good := chainIDServer(t, "0x67726964", 0)
	huge := chainIDServer(t, "0x67726964", 4096)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"right chain", Config{URL: good.URL, ChainID: 0x67726964}, ""},
		{"wrong chain", Config{URL: good.URL, ChainID: 1}, "serves chain 1735551332, configuration says 1"},
		{"no chain ID", Config{URL: good.URL}, "no chain ID configured"},
		{"not a URL", Config{URL: "localhost", ChainID: 1}, "not an endpoint URL"},
		{"bad scheme", Config{URL: "ftp://127.0.0.1:1", ChainID: 1}, "unsupported scheme"},
		{"response over the limit", Config{URL: huge.URL, ChainID: 0x67726964, MaxResponseBytes: 1024}, "over the 1024 byte limit"},
	}
	for _, tt := range tests {
		c, err := Dial(ctx, tt.cfg)
		if c != nil {
			c.Close()
		}
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: got %v, want an error containing %q", tt.name, err, tt.wantErr)
		}
	}
}
