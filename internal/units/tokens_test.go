package units

import (
	"math/big"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func TestParseTokens(t *testing.T) {
	for _, tt := range []struct {
		in   string
		dec  uint8
		want string
		bad  bool
	}{
		{"25", 18, "25000000000000000000", false},
		{"0.5", 18, "500000000000000000", false},
		{"1.000000000000000001", 18, "1000000000000000001", false},
		{" 3 ", 6, "3000000", false},
		{"0", 18, "0", false},
		{"1.0000001", 6, "", true},
		{"-1", 18, "", true},
		{"1e3", 18, "", true},
		{"", 18, "", true},
		{".5", 18, "", true},
		{"five", 18, "", true},
	} {
		got, err := ParseTokens(tt.in, tt.dec)
		if tt.bad {
			if err == nil || !strings.Contains(err.Error(), "decimal number") && !strings.Contains(err.Error(), "not an amount") {
				t.Errorf("ParseTokens(%q) = %v, %v; want an error saying what to give", tt.in, got, err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseTokens(%q, %d) = %v, %v; want %s", tt.in, tt.dec, got, err, tt.want)
		}
	}
}

// Tokens and ParseTokens are inverses on every amount.
func TestTokensRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dec := uint8(rapid.IntRange(0, 24).Draw(rt, "decimals"))
		v := new(big.Int).Lsh(big.NewInt(rapid.Int64Min(0).Draw(rt, "v")), uint(rapid.IntRange(0, 100).Draw(rt, "shift")))
		s := Tokens(v, dec)
		back, err := ParseTokens(s, dec)
		if err != nil || back.Cmp(v) != 0 {
			rt.Fatalf("%v → %q → %v, %v", v, s, back, err)
		}
	})
}
