package api

import "encoding/json"

// SettleInfo is settle_info's answer: the chain this node settles on and
// what a wallet needs to add the chain and the token.
type SettleInfo struct {
	Backend string `json:"backend"` // embedded or rpc
	ChainID uint64 `json:"chain_id"`
	// RPCURLs are the chain's HTTP endpoints, WSURL its WebSocket one (as
	// this node reaches them; the embedded chain's are on 127.0.0.1).
	RPCURLs   []string        `json:"rpc_urls"`
	WSURL     string          `json:"ws_url,omitempty"`
	Contracts SettleContracts `json:"contracts"`
	Token     SettleToken     `json:"token"`
	// Account is this node's Ethereum account: it signs receipts and
	// transactions, and receives payouts.
	Account string `json:"account"`
	Head    uint64 `json:"head"` // the chain's latest block
	// AddChain is the parameter of EIP-3085 wallet_addEthereumChain and
	// WatchAsset that of EIP-747 wallet_watchAsset, ready for a dapp.
	AddChain   AddEthereumChain `json:"add_chain"`
	WatchAsset WatchAsset       `json:"watch_asset"`
}

// SettleContracts are the settlement contracts' addresses.
type SettleContracts struct {
	Token    string `json:"token"`
	Escrow   string `json:"escrow"`
	Registry string `json:"registry"`
	Stake    string `json:"stake"`
}

// SettleToken is the ERC-20 jobs pay in.
type SettleToken struct {
	Address  string `json:"address"`
	Name     string `json:"name"`
	Symbol   string `json:"symbol"`
	Decimals uint8  `json:"decimals"`
}

// AddEthereumChain is EIP-3085's AddEthereumChainParameter.
type AddEthereumChain struct {
	ChainID        string         `json:"chainId"` // 0x-prefixed hex
	ChainName      string         `json:"chainName"`
	NativeCurrency NativeCurrency `json:"nativeCurrency"`
	RPCURLs        []string       `json:"rpcUrls"`
}

// NativeCurrency is the chain's gas currency as EIP-3085 describes it.
type NativeCurrency struct {
	Name     string `json:"name"`
	Symbol   string `json:"symbol"`
	Decimals uint8  `json:"decimals"`
}

// WatchAsset is EIP-747's wallet_watchAsset parameter for an ERC-20.
type WatchAsset struct {
	Type    string           `json:"type"` // ERC20
	Options WatchAssetOption `json:"options"`
}

// WatchAssetOption describes the token to watch.
type WatchAssetOption struct {
	Address  string `json:"address"`
	Symbol   string `json:"symbol"`
	Decimals uint8  `json:"decimals"`
}

// SettleBalance is settle_balance's answer. Amounts are decimal integers
// in the smallest unit (wei; the token's 10^-decimals), as big as they get.
type SettleBalance struct {
	Address       string `json:"address"`
	Token         string `json:"token"`
	TokenSymbol   string `json:"token_symbol"`
	TokenDecimals uint8  `json:"token_decimals"`
	Ether         string `json:"ether"` // wei
	Block         uint64 `json:"block"` // both read at this block
}

// SettleClaim is what this node's account is owed in one escrowed job, from
// the latest payout root it was told of (settle_claims).
type SettleClaim struct {
	Job       string   `json:"job"`       // gridswarm job ID
	EscrowID  string   `json:"escrow_id"` // the escrow's job ID
	Batch     int      `json:"batch"`
	Amount    string   `json:"amount"`    // cumulative, base units
	Claimed   string   `json:"claimed"`   // paid so far
	Claimable string   `json:"claimable"` // Amount - Claimed, if the root is current
	Tasklets  int      `json:"tasklets"`
	Proof     []string `json:"proof"`
	// Stale says the chain holds a newer root than this one: wait for its
	// notice (claims with this proof are still accepted once).
	Stale bool `json:"stale,omitempty"`
}

// TxResult is a transaction this node sent and how it ended.
type TxResult struct {
	Tx     string `json:"tx"`
	Block  uint64 `json:"block"`
	Amount string `json:"amount,omitempty"` // base units moved, where one was
}

// StakeInfo is an account's stake in WorkerStake.
type StakeInfo struct {
	Address   string `json:"address"`
	Bonded    string `json:"bonded"`
	Unbonding string `json:"unbonding"`
	UnlockAt  int64  `json:"unlock_at,omitempty"` // unix seconds
}

// SettleEvent is a payout root posted or noticed, a claim paid, or a slash
// (settle_subscribe("events")).
type SettleEvent struct {
	Kind     string `json:"kind"` // batch, claim, slash
	Job      string `json:"job,omitempty"`
	EscrowID string `json:"escrow_id,omitempty"`
	Batch    int    `json:"batch,omitempty"`
	Account  string `json:"account,omitempty"`
	Amount   string `json:"amount,omitempty"`
	Tx       string `json:"tx,omitempty"`
}

// DatasetToken is a dataset registered as a Registry token.
type DatasetToken struct {
	TokenID string `json:"token_id"`
	CID     string `json:"cid"`
	Owner   string `json:"owner"`
	Tx      string `json:"tx"`
}

// TypedReceipt is a tasklet's receipt as EIP-712 typed data (the JSON
// eth_signTypedData_v4 takes), its digest and the worker's signature.
type TypedReceipt struct {
	TypedData json.RawMessage `json:"typed_data"`
	Digest    string          `json:"digest"`
	Signature string          `json:"signature"`
	Signer    string          `json:"signer"`
}

// RegistryToken is a Registry token: a dataset or a job's final model.
type RegistryToken struct {
	TokenID    string `json:"token_id"`
	Kind       string `json:"kind"` // dataset or model
	Owner      string `json:"owner"`
	CID        string `json:"cid"`
	Provenance string `json:"provenance,omitempty"`
	EscrowID   string `json:"escrow_id,omitempty"` // model: the job's escrow
}

// SettleEvidence is what backs a paid job's payouts (settle_evidence):
// each root with the data-grid record of the receipts it pays, and each
// decided spot check with its evidence bundle.
type SettleEvidence struct {
	Job        string          `json:"job"`
	EscrowID   string          `json:"escrow_id"`
	Batches    []BatchEvidence `json:"batches"`
	Checks     []CheckEvidence `json:"checks"`
	Provenance string          `json:"provenance,omitempty"` // once the escrow is closed
}

// BatchEvidence is one posted root.
type BatchEvidence struct {
	Batch        int    `json:"batch"`
	Root         string `json:"root"`
	ReceiptsRoot string `json:"receipts_root"`
	Record       string `json:"record"` // CID: payouts and receipts
	Tx           string `json:"tx"`
}

// CheckEvidence is one decided spot check.
type CheckEvidence struct {
	Round    int      `json:"round"` // 1-based
	Tasklet  int      `json:"tasklet"`
	Outcome  string   `json:"outcome"`
	Losers   []string `json:"losers,omitempty"`
	Evidence string   `json:"evidence,omitempty"` // CID of the bundle
}
