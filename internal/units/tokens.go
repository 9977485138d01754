package units

import (
	"fmt"
	"math/big"
	"strings"
)

// ParseTokens reads a decimal number of whole tokens as base units.
func ParseTokens(s string, decimals uint8) (*big.Int, error) {
	s = strings.TrimSpace(s)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > int(decimals) || strings.Trim(whole+frac, "0123456789") != "" {
		return nil, fmt.Errorf("%q is not an amount of tokens: give a decimal number such as 25 or 0.5, with at most %d decimals", s, decimals)
	}
	v, ok := new(big.Int).SetString(whole+frac+strings.Repeat("0", int(decimals)-len(frac)), 10)
	if !ok {
		return nil, fmt.Errorf("%q is not an amount of tokens", s)
	}
	return v, nil
}

// Tokens writes base units as a decimal number of whole tokens.
func Tokens(v *big.Int, decimals uint8) string {
	if v == nil {
		return "0"
	}
	unit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(decimals)), nil)
	q, r := new(big.Int).QuoRem(new(big.Int).Abs(v), unit, new(big.Int))
	sign := ""
	if v.Sign() < 0 {
		sign = "-"
	}
	if r.Sign() == 0 {
		return sign + q.String()
	}
	f := r.String()
	f = strings.Repeat("0", int(decimals)-len(f)) + f
	return sign + q.String() + "." + strings.TrimRight(f, "0")
}
