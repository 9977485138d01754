// Package dashboard holds the daemon's web dashboard: static files (HTML,
// CSS, vanilla JavaScript drawing SVG) built into the binary with embed, so
// nothing is fetched at run time and no CDN is involved. The daemon serves
// them under /ui/ on its API listener (node/api); the pages then talk to
// the same JSON-RPC as the CLI, over a WebSocket authenticated by the
// session cookie that /login hands out.
//
//	gridswarm dashboard ─▶ node_dashboardLogin ─▶ /login?t=… ─▶ cookie ─▶ /ui/ ─▶ WebSocket JSON-RPC
//	                                                                      pages: swarm, data, jobs, job, wallet, worker
package dashboard
