// Package rpcchain is the settle.Chain backend for any Ethereum JSON-RPC
// endpoint: another daemon's embedded chain, a geth or anvil node, a
// testnet. It refuses an endpoint whose chain ID differs from the
// configured one (a wallet key must never sign for the wrong chain), waits
// for the configured number of confirmations, and caps what it reads from
// the endpoint.
//
//	Dial ──eth_chainId == Config.ChainID?──► Chain
//	Confirm: poll the receipt ──► poll the head until receipt block + confirmations − 1
//	         ──► re-read the receipt: same block hash? (else it was reorged: wait again)
package rpcchain
