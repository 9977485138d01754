package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error is an error the daemon answered a call with (a JSON-RPC error
// object). Its text is the daemon's message.
type Error struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *Error) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("json-rpc error %d", e.Code)
	}
	return e.Message
}

// ErrorCode returns the JSON-RPC error code.
func (e *Error) ErrorCode() int { return e.Code }

// CallError is the error of one call, naming the JSON-RPC method it came
// from ("data_add: …"). Err is an *Error when the method failed, an
// *HTTPError when the daemon refused the call, or what stopped the call on
// the way. A person reads the message without the method name (the CLI
// strips it); logs and scripts keep it.
type CallError struct {
	Method string
	Err    error
}

func (e *CallError) Error() string { return e.Method + ": " + e.Err.Error() }

func (e *CallError) Unwrap() error { return e.Err }

// HTTPError is a refusal by the daemon's HTTP front (a wrong token, a body
// over the limit) before any method ran.
type HTTPError struct {
	StatusCode int
	Status     string
	Body       string
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return e.Status
	}
	return e.Status + ": " + e.Body
}

// request and response are JSON-RPC 2.0 messages. A response without an
// ID and with a method is a subscription notification.
type request struct {
	Version string `json:"jsonrpc"`
	ID      uint64 `json:"id"`
	Method  string `json:"method"`
	Params  []any  `json:"params"`
}

type response struct {
	Version string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
}

// maxResponse bounds what one HTTP answer may hold (a job record with many
// rounds is the largest).
const maxResponse = 128 << 20

func newRequest(id uint64, method string, args []any) request {
	if args == nil {
		args = []any{}
	}
	return request{Version: "2.0", ID: id, Method: method, Params: args}
}

// result decodes a response into out (nil: the result is dropped).
func (r *response) result(out any) error {
	if r.Error != nil {
		return r.Error
	}
	if out == nil || len(r.Result) == 0 || bytes.Equal(r.Result, []byte("null")) {
		return nil
	}
	if err := json.Unmarshal(r.Result, out); err != nil {
		return fmt.Errorf("cannot decode the answer: %w", err)
	}
	return nil
}

// callHTTP makes one call in one HTTP request. Cancelling ctx closes the
// request, and the daemon cancels the method's context in turn.
func (c *Client) callHTTP(ctx context.Context, out any, method string, args []any) error {
	body, err := json.Marshal(newRequest(c.nextID.Add(1), method, args))
	if err != nil {
		return fmt.Errorf("cannot encode the arguments: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Endpoint.HTTP, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("bad daemon address %q: %w", c.Endpoint.HTTP, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("cannot reach the daemon at %s: %w", c.Endpoint.HTTP, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, Body: strings.TrimSpace(string(b))}
	}
	var r response
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(&r); err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		return fmt.Errorf("cannot read the daemon's answer: %w", err)
	}
	return r.result(out)
}
