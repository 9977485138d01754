// Package repo owns the daemon's repo directory ($GRIDSWARM_PATH, default
// ~/.gridswarm): creating it, locking it for one daemon, the keys in it, the
// API token and the endpoint file through which the CLI finds the daemon.
//
//	<repo>/
//	  config.toml     every setting, commented
//	  identity.key    libp2p Ed25519 key, scrypt-encrypted (go-ethereum keystore format)
//	  keystore/       Ethereum account, go-ethereum keystore (scrypt)
//	  api.token       bearer token for the JSON-RPC, mode 0600
//	  repo.lock       flock held by the running daemon (the kernel drops it on kill -9)
//	  api             endpoint file: written when the daemon is ready, removed on exit
//	  datagrid/       block store and metadata
package repo
