// Package embedded runs a private Ethereum chain inside the daemon, the
// settle.Chain of a single host, the demo and CI. It is assembled the way
// `geth --dev` assembles one (go-ethereum v1.17.10 cmd/geth, cmd/utils):
//
//	node.Node (no peers, no discovery; HTTP+WS on 127.0.0.1, eth/net/web3 only)
//	  └─ eth.Ethereum (full sync, hash state scheme, no pruning, small caches)
//	       ├─ filters API (eth_getLogs, eth_subscribe "logs")
//	       └─ catalyst.SimulatedBeacon, period 0: a block as soon as a
//	          transaction arrives
//	head event ──► SyncKeyValue (fsync) ──► durable head ──► Confirm returns
//
// Crash safety: go-ethereum's default path state scheme keeps recent state
// in memory and a kill -9 loses it (a restart came back at genesis and
// stuck); the hash scheme without pruning writes every block's state with
// the block, and a database sync after every new head makes the block
// durable. Confirm returns only once the transaction's block is durable, so
// whatever a caller of Confirm was told survives kill -9. A remote client
// (the rpc backend) may see a block a few microseconds before its sync.
//
// The chain has its own chain ID (settle.DefaultChainID unless configured)
// and fork schedule (settle.ChainConfig). Its genesis is written to
// genesis.json in the data directory on first start and read back on every
// restart, so the accounts funded at genesis never change under a chain.
// The "dev" and "testing" namespaces geth registers for the simulated
// beacon are reachable in-process only; HTTP and WebSocket serve eth, net
// and web3 and nothing else, with geth's request bounds (5 MiB bodies,
// 1,000 calls a batch, 25 MB a batch response, 1,000 addresses and topics
// an eth_getLogs).
package embedded
