package cli

import (
	"strings"
	"testing"
)

func TestMatchPeer(t *testing.T) {
	const (
		a = "12D3KooWAbcdefGhijkLmnopQrstuvWxyz0123456789gxwfh3"
		b = "12D3KooWZyxwvuTsrqpOnmlkJihgfeDcba9876543210gxwfh3"
		c = "12D3KooWQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQtail9"
	)
	known := []string{a, b, c, a} // a repeated ID counts once
	tests := []struct {
		arg     string
		want    string
		wantErr []string // substrings of the error
	}{
		{arg: shortID(a), wantErr: []string{"matches 2 peers", a, b}}, // same prefix and suffix
		{arg: shortID(c), want: c},
		{arg: "12D3KooWQQ...tail9", want: c},
		{arg: "12D3KooWAbcd", want: a},
		{arg: "tail9", want: c},
		{arg: "0gxwfh3", want: b},
		{arg: "12D3KooW", wantErr: []string{"matches 3 peers", a, b, c}},
		{arg: "nope1234", wantErr: []string{"no connected or known peer", "gridswarm peers --all"}},
		{arg: "12D3…" + "zzzz", wantErr: []string{"no connected or known peer"}},
		{arg: "12…", wantErr: []string{"too little"}},
		{arg: "ab", wantErr: []string{"too little"}},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			got, err := matchPeer(tt.arg, known)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("matchPeer = %q, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("matchPeer = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}
