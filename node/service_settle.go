package node

import (
	"context"
	"fmt"
	"math/big"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"

	"github.com/gridswarm/gridswarm/api"
)

// SettleService is the settle_ namespace: the chain this node settles on,
// for wallets, tools and `gridswarm wallet`.
type SettleService struct{ n *Node }

// ethSymbol is the gas currency's symbol shown to wallets: every
// Ethereum dev chain's, and what a wallet expects of one.
const ethSymbol = "ETH"

// Info returns the chain, its endpoints, the contracts and this node's
// account.
func (s *SettleService) Info(ctx context.Context) (api.SettleInfo, error) {
	st := s.n.settle
	if st == nil {
		return api.SettleInfo{}, ErrSettleOff
	}
	head, err := st.chain.BlockNumber(ctx)
	if err != nil {
		return api.SettleInfo{}, fmt.Errorf("cannot read the chain's head: %w", err)
	}
	a := st.client.Addresses()
	id := st.chain.ChainID()
	urls := []string{}
	if st.httpURL != "" {
		urls = append(urls, st.httpURL)
	}
	name := "gridswarm " + st.backend
	if st.backend == "embedded" {
		name = "gridswarm (" + shortAccount(st.client.From()) + ")"
	}
	return api.SettleInfo{
		Backend: st.backend,
		ChainID: id.Uint64(),
		RPCURLs: urls,
		WSURL:   st.wsURL,
		Contracts: api.SettleContracts{
			Token: a.Token.Hex(), Escrow: a.Escrow.Hex(), Registry: a.Registry.Hex(), Stake: a.Stake.Hex(),
		},
		Token:   api.SettleToken{Address: a.Token.Hex(), Name: st.token.Name, Symbol: st.token.Symbol, Decimals: st.token.Decimals},
		Account: st.client.From().Hex(),
		Head:    head,
		AddChain: api.AddEthereumChain{
			ChainID:        "0x" + id.Text(16),
			ChainName:      name,
			NativeCurrency: api.NativeCurrency{Name: "Ether", Symbol: ethSymbol, Decimals: 18},
			RPCURLs:        urls,
		},
		WatchAsset: api.WatchAsset{Type: "ERC20", Options: api.WatchAssetOption{
			Address: a.Token.Hex(), Symbol: st.token.Symbol, Decimals: st.token.Decimals,
		}},
	}, nil
}

// shortAccount is 0x1234…abcd, to tell daemons' chains apart in a wallet.
func shortAccount(a common.Address) string {
	h := a.Hex()
	return h[:6] + "…" + h[len(h)-4:]
}

// Balance returns the token and ether balance of an address (default: this
// node's account), both read at one block.
func (s *SettleService) Balance(ctx context.Context, address *string) (api.SettleBalance, error) {
	st := s.n.settle
	if st == nil {
		return api.SettleBalance{}, ErrSettleOff
	}
	who := st.client.From()
	if address != nil && strings.TrimSpace(*address) != "" {
		a := strings.TrimSpace(*address)
		if !common.IsHexAddress(a) {
			return api.SettleBalance{}, fmt.Errorf("%q is not an Ethereum address: give 0x and 40 hex digits, or nothing for this node's account", a)
		}
		who = common.HexToAddress(a)
	}
	head, err := st.chain.BlockNumber(ctx)
	if err != nil {
		return api.SettleBalance{}, fmt.Errorf("cannot read the chain's head: %w", err)
	}
	at := new(big.Int).SetUint64(head)
	eth, err := st.chain.BalanceAt(ctx, who, at)
	if err != nil {
		return api.SettleBalance{}, fmt.Errorf("cannot read the ether balance of %s: %w", who.Hex(), err)
	}
	tok, err := tokenBalanceAt(ctx, st.chain, st.client.Addresses().Token, who, at)
	if err != nil {
		return api.SettleBalance{}, fmt.Errorf("cannot read the token balance of %s: %w", who.Hex(), err)
	}
	return api.SettleBalance{
		Address: who.Hex(), Token: tok.String(), TokenSymbol: st.token.Symbol, TokenDecimals: st.token.Decimals,
		Ether: eth.String(), Block: head,
	}, nil
}

// balanceOfSelector is ERC-20 balanceOf(address).
var balanceOfSelector = []byte{0x70, 0xa0, 0x82, 0x31}

// tokenBalanceAt reads an ERC-20 balance at a block (settle.Client reads
// the latest only, and ether must match the token's block).
func tokenBalanceAt(ctx context.Context, c bind.ContractCaller, token, who common.Address, block *big.Int) (*big.Int, error) {
	data := append(append([]byte{}, balanceOfSelector...), common.LeftPadBytes(who.Bytes(), 32)...)
	out, err := c.CallContract(ctx, ethereum.CallMsg{To: &token, Data: data}, block)
	if err != nil {
		return nil, err
	}
	if len(out) != 32 {
		return nil, fmt.Errorf("token %s answered balanceOf with %d bytes, want 32: is it an ERC-20?", token.Hex(), len(out))
	}
	return new(big.Int).SetBytes(out), nil
}
