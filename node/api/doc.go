// Package api serves gridswarm's JSON-RPC, the dashboard's files and
// /metrics on loopback: go-ethereum's rpc server over HTTP and WebSocket
// behind one guard that checks every path, in order, the Host header (DNS
// rebinding), the Origin, the credentials and the body size.
//
//	request ─▶ Host loopback? ─403─▶ Origin self/allowed? ─403─▶ OPTIONS preflight ─▶ 204 + CORS headers
//	                                         ├─ GET /ui/… ─▶ dashboard files (no data in them)
//	                                         ├─ GET /login?t= ─▶ one-time token → session cookie, 303 /ui/
//	                                         └─ token or session? ─401─▶ /metrics | WebSocket | size ─413─▶ rpc.Server
//
// Credentials: the bearer token from <repo>/api.token, or the dashboard's
// session cookie (HttpOnly, SameSite=Strict), honoured only on requests
// from the daemon's own origin. Browsers cannot set headers on a WebSocket,
// so the dashboard's WebSocket authenticates with the cookie; the token is
// never put in a URL, a subprotocol or a message a page script can read.
package api
