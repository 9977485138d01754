package config

const header = `# gridswarm daemon configuration. Every default is written out below.
# Unknown keys are refused, so a typo is an error rather than a silent default.
`

// comments annotate Marshal's output, keyed by section or section.key.
var comments = map[string]string{
	"profile":                     "default (a real install) or local (several daemons on one machine, loopback only)",
	"swarm":                       "libp2p host: addresses, peers, connection and resource limits",
	"swarm.listen":                "multiaddrs to listen on; port 0 takes a free port (the real one goes to the endpoint file)",
	"swarm.bootstrap":             "peers to join first, as /ip4/…/tcp/…/p2p/<peer-id>",
	"swarm.mdns":                  "find peers on the LAN with multicast DNS",
	"swarm.nat":                   "ask the router for a port mapping with UPnP/NAT-PMP",
	"swarm.conn_low":              "connection manager: trim down to this many connections…",
	"swarm.conn_high":             "…once there are more than this many (must stay under max_conns)",
	"swarm.conn_grace":            "new connections are never trimmed before this age",
	"swarm.max_conns":             "resource manager: hard cap on connections",
	"swarm.max_streams":           "resource manager: hard cap on streams",
	"swarm.max_memory_mb":         "resource manager: memory all libp2p scopes may reserve",
	"swarm.max_fds":               "resource manager: file descriptors libp2p may use",
	"swarm.ping_interval":         "how often connected peers are pinged to measure RTT",
	"swarm.discover_interval":     "how often the DHT is asked for more swarm members",
	"dht":                         "Kademlia DHT under the private protocol /gridswarm/kad/1.0.0",
	"dht.mode":                    "auto (server once reachable), server or client",
	"api":                         "JSON-RPC on loopback; every request needs the token in api.token",
	"api.listen":                  "host:port on loopback; port 0 takes a free one",
	"api.max_body_bytes":          "requests larger than this are refused",
	"api.allowed_origins":         "browser origins allowed to call the API (none by default)",
	"metrics":                     "Prometheus metrics on loopback",
	"metrics.enabled":             "serve /metrics",
	"metrics.listen":              "host:port on loopback; port 0 takes a free one",
	"log":                         "structured logs on stderr",
	"log.level":                   "debug, info, warn or error",
	"log.format":                  "text or json",
	"keystore":                    "key encryption used by init",
	"keystore.scrypt":             "standard (slow on purpose) or light (throw-away local repos)",
	"datagrid":                    "the local block store",
	"datagrid.quota_gib":          "most GiB the data grid may use; 0 means no quota",
	"datagrid.reprovide_interval": "how often pinned content is announced again in the DHT",
}
