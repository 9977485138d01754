// Command daemon benchmarks gridswarm's daemon against Kubo's (issue 2):
// the time from exec to a JSON-RPC that answers, and the resident memory of
// eight peers after a minute of idling. Both kinds run in the same process
// tree, one after the other, so they share the machine's load.
//
//	fresh repo ──► exec daemon ──► poll api file + one RPC every 5 ms ──► ready
//	  (untimed)        └────────────── timed ───────────────────┘        SIGTERM
//
//	8 daemons ──► join (gridswarm: --bootstrap; Kubo: swarm connect) ──► ≥7 peers
//	          ──► idle ──► VmRSS/VmHWM from /proc/<pid>/status,
//	                       private anonymous from /proc/<pid>/smaps_rollup
//
// gridswarm runs with its keys sealed at three scrypt costs: none (N=2, the
// same key-derivation cost as Kubo, whose key is not encrypted), the local
// profile's light one, and the default profile's standard one.
//
// It refuses to start daemons unless its network namespace holds nothing but
// loopback: run it through run.sh, which re-executes itself under `unshare -n`,
// because Kubo reaches for the internet by default.
package main
