package settle

import "testing"

// TokenMeta reads what a wallet needs to show the token from the chain.
func TestTokenMeta(t *testing.T) {
	f := newFixture(t, 0)
	got, err := f.outsider.TokenMeta(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := TokenMeta{Name: "Gridswarm Test Token", Symbol: "GRID", Decimals: 18}
	if got != want {
		t.Errorf("TokenMeta = %+v, want %+v", got, want)
	}
}
