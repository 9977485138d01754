package api

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
