package api

import (
	"encoding/json"
	"testing"
)

func TestHexBytesJSON(t *testing.T) {
	for _, tt := range []struct {
		in   HexBytes
		want string
	}{
		{nil, `"0x"`},
		{HexBytes{}, `"0x"`},
		{HexBytes{0, 1, 0xab}, `"0x0001ab"`},
	} {
		b, err := json.Marshal(tt.in)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal(%x) = %s, %v; want %s", []byte(tt.in), b, err, tt.want)
		}
		var back HexBytes
		if err := json.Unmarshal(b, &back); err != nil || string(back) != string(tt.in) {
			t.Errorf("Unmarshal(%s) = %x, %v", b, []byte(back), err)
		}
	}
	var b HexBytes
	if err := json.Unmarshal([]byte(`"0XAB"`), &b); err != nil || string(b) != "\xab" {
		t.Errorf(`Unmarshal("0XAB") = %x, %v`, []byte(b), err)
	}
	for _, bad := range []string{`"ab"`, `"0xabc"`, `"0xzz"`, `""`, `12`} {
		if err := json.Unmarshal([]byte(bad), &b); err == nil {
			t.Errorf("Unmarshal(%s) accepted", bad)
		}
	}
}
