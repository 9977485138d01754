package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/gridswarm/gridswarm/scheduler/jobspec"
)

const fuzzToken = "0123456789abcdef0123456789abcdef"

// FuzzGuard sends requests with fuzzed Host, Origin, Authorization and
// upgrade headers and checks that the inner handler is reached exactly
// when the Host is loopback, the Origin is absent, allowed or the daemon's
// own, and the
// bearer token is the right one; and that a refusal is 401, 403 or 413.
func FuzzGuard(f *testing.F) {
	f.Add("127.0.0.1:5101", "", "Bearer "+fuzzToken, false, 10)
	f.Add("[::1]:5101", "http://wallet.local", "Bearer "+fuzzToken, true, 10)
	f.Add("localhost", "null", "Bearer "+fuzzToken, false, 10)
	f.Add("127.0.0.1.nip.io:5101", "", "Bearer "+fuzzToken, false, 10)
	f.Add("[::ffff:127.0.0.1]:1", "", "bearer "+fuzzToken, false, 4096)
	f.Add("127.1", "", "Bearer  "+fuzzToken, false, 0)
	o := Options{Token: fuzzToken, MaxBodyBytes: 1024, AllowedOrigins: []string{"http://wallet.local"}}
	f.Fuzz(func(t *testing.T, host, origin, auth string, ws bool, bodyLen int) {
		if bodyLen < 0 || bodyLen > 4096 {
			return
		}
		var reached bool
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true })
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(strings.Repeat("x", bodyLen)))
		r.Host = host
		if origin != "" {
			r.Header["Origin"] = []string{origin}
		}
		if auth != "" {
			r.Header["Authorization"] = []string{auth}
		}
		if ws {
			r.Header.Set("Upgrade", "websocket")
			r.Header.Set("Connection", "Upgrade")
		}
		w := httptest.NewRecorder()
		Guard(o, inner, inner).ServeHTTP(w, r)
		self := origin == "http://"+host // the dashboard's own pages
		allowed := loopbackHost(host) && (origin == "" || origin == "http://wallet.local" || self) && auth == "Bearer "+fuzzToken
		if allowed && !ws && bodyLen > o.MaxBodyBytes {
			allowed = false // refused for its size, before any handler
		}
		if reached != allowed {
			t.Fatalf("host %q origin %q auth %q ws %v body %d: handler reached = %v, want %v (status %d)",
				host, origin, auth, ws, bodyLen, reached, allowed, w.Code)
		}
		if !reached && w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden && w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("refusal with status %d", w.Code)
		}
	})
}

// jobStub is the job namespace as the daemon's JSON-RPC server sees a
// spec: a string parsed by jobspec.Parse.
type jobStub struct{}

func (jobStub) Submit(spec string) (string, error) {
	s, err := jobspec.Parse([]byte(spec))
	if err != nil {
		return "", err
	}
	return s.Name, nil
}

// FuzzSubmitRequest posts fuzzed JSON-RPC bodies, most of them job_submit
// calls with a fuzzed spec, through Guard and go-ethereum's RPC server set
// up as Listen sets it up, and checks that every answer is HTTP 200 with
// JSON-RPC responses (none for notifications) or a 4xx refusal, that no method
// crashed, and that the spec string a client sends reaches Parse unchanged: the
// answer is Parse's own result or error.
func FuzzSubmitRequest(f *testing.F) {
	spec := "version: 1\nname: fz\nmodel: {kind: softmax, inputs: 4, classes: 2}\ndataset: {cid: bafybeiax3qvjqatf55xcna4hu5ue4guyoc6szxutkpjyyf7fyqkhlf2hki}\n"
	f.Add(spec, "")
	f.Add("version: 1\nname: [", "")
	f.Add("", `[{"jsonrpc":"2.0","id":1,"method":"job_submit","params":["x"]},{"jsonrpc":"2.0","id":2,"method":"job_nope"}]`)
	f.Add("", `{"jsonrpc":"2.0","id":1,"method":"job_submit","params":[1]}`)
	f.Add("", `{"jsonrpc":"2.0","id":{},"method":"job_submit","params":{"a":1}}`)
	o := Options{Token: fuzzToken, MaxBodyBytes: 64 << 10}
	srv := rpc.NewServer()
	srv.SetHTTPBodyLimit(o.MaxBodyBytes)
	srv.SetBatchLimits(100, o.MaxBodyBytes*4)
	if err := srv.RegisterName("job", jobStub{}); err != nil {
		f.Fatalf("RegisterName: %v", err)
	}
	f.Cleanup(srv.Stop)
	h := Guard(o, srv, srv)
	f.Fuzz(func(t *testing.T, spec, raw string) {
		body := []byte(raw)
		if raw == "" {
			var err error
			body, err = json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "job_submit", "params": []string{spec}})
			if err != nil {
				t.Fatalf("json.Marshal: %v", err)
			}
		}
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r.Host = "127.0.0.1:5101"
		r.Header.Set("Authorization", "Bearer "+fuzzToken)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body.Bytes())
		}
		if w.Code != http.StatusOK {
			return
		}
		out := bytes.TrimSpace(w.Body.Bytes())
		if strings.Contains(string(out), "crashed") {
			t.Fatalf("a method crashed on %q: %s", body, out)
		}
		if len(out) == 0 && raw != "" {
			return // notifications (no id) and empty bodies get no answer
		}
		if !json.Valid(out) {
			t.Fatalf("response is not JSON: %q", out)
		}
		if raw != "" {
			return
		}
		var resp struct {
			Result string `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			t.Fatalf("response %s: %v", out, err)
		}
		var sent struct{ Params []string }
		if err := json.Unmarshal(body, &sent); err != nil || len(sent.Params) != 1 {
			t.Fatalf("cannot read back the request: %v", err)
		}
		s, perr := jobspec.Parse([]byte(sent.Params[0])) // json.Marshal replaced invalid UTF-8
		switch {
		case perr == nil && (resp.Error != nil || resp.Result != s.Name):
			t.Fatalf("spec Parse accepts came back as %s", out)
		case perr != nil && (resp.Error == nil || resp.Error.Message != perr.Error()):
			t.Fatalf("spec Parse refuses (%v) came back as %s", perr, out)
		}
	})
}
