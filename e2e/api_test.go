package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gridswarm/gridswarm/node/repo"
)

// The JSON-RPC refuses what it must and stays up after each refusal.
func TestAPIGuards(t *testing.T) {
	skipShort(t)
	dir := initRepo(t)
	d := startDaemon(t, dir)
	tok, err := os.ReadFile(filepath.Join(dir, repo.TokenFile))
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(tok))
	status := `{"jsonrpc":"2.0","id":1,"method":"node_status","params":[]}`
	tests := []struct {
		name       string
		body       string
		headers    map[string]string
		wantStatus int
		wantRPCErr int // JSON-RPC error code expected in a 200 answer
	}{
		{"no token", status, nil, http.StatusUnauthorized, 0},
		{"wrong token", status, map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 64)}, http.StatusUnauthorized, 0},
		{"foreign origin", status, map[string]string{"Authorization": "Bearer " + token, "Origin": "https://evil.example"}, http.StatusForbidden, 0},
		{"rebinding host", status, map[string]string{"Authorization": "Bearer " + token, "Host": "evil.example"}, http.StatusForbidden, 0},
		{"malformed json", `{"jsonrpc":"2.0","id":1,"method":`, map[string]string{"Authorization": "Bearer " + token}, http.StatusOK, -32700},
		{"unknown method", `{"jsonrpc":"2.0","id":1,"method":"node_nope","params":[]}`, map[string]string{"Authorization": "Bearer " + token}, http.StatusOK, -32601},
		{"oversized body", `{"jsonrpc":"2.0","id":1,"method":"peer_announce","params":["` + strings.Repeat("x", 2<<20) + `"]}`, map[string]string{"Authorization": "Bearer " + token}, http.StatusRequestEntityTooLarge, 0},
		{"good", status, map[string]string{"Authorization": "Bearer " + token}, http.StatusOK, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, d.ep.HTTP, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			for k, v := range tt.headers {
				if k == "Host" {
					req.Host = v
					continue
				}
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %q)", resp.StatusCode, tt.wantStatus, body)
			}
			if resp.StatusCode == http.StatusOK {
				var r struct {
					Result json.RawMessage `json:"result"`
					Error  *struct {
						Code int `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal(body, &r); err != nil {
					t.Fatalf("answer is not JSON-RPC: %q", body)
				}
				switch {
				case tt.wantRPCErr != 0 && (r.Error == nil || r.Error.Code != tt.wantRPCErr):
					t.Errorf("answer %s, want JSON-RPC error %d", body, tt.wantRPCErr)
				case tt.wantRPCErr == 0 && r.Error != nil:
					t.Errorf("answer %s, want a result", body)
				}
			}
			// The daemon is still up and answering.
			if r := gs(t, dir, "status", "--json"); r.code != 0 {
				t.Fatalf("daemon stopped answering after %s: %s", tt.name, r.err)
			}
		})
	}
}
