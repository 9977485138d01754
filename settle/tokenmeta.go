package settle

import (
	"context"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
)

// TokenMeta is what a wallet shows of an ERC-20 (EIP-747 watchAsset).
type TokenMeta struct {
	Name     string `json:"name"`
	Symbol   string `json:"symbol"`
	Decimals uint8  `json:"decimals"`
}

// TokenMeta reads the settlement token's name, symbol and decimals.
func (c *Client) TokenMeta(ctx context.Context) (TokenMeta, error) {
	var m TokenMeta
	var err error
	if m.Name, err = bind.Call(c.token, c.call(ctx), c.abi.token.PackName(), c.abi.token.UnpackName); err != nil {
		return m, c.dec.asRevert("token name", err)
	}
	if m.Symbol, err = bind.Call(c.token, c.call(ctx), c.abi.token.PackSymbol(), c.abi.token.UnpackSymbol); err != nil {
		return m, c.dec.asRevert("token symbol", err)
	}
	if m.Decimals, err = bind.Call(c.token, c.call(ctx), c.abi.token.PackDecimals(), c.abi.token.UnpackDecimals); err != nil {
		return m, c.dec.asRevert("token decimals", err)
	}
	return m, nil
}
