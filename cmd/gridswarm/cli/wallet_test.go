package cli

import "testing"

func TestFormatUnits(t *testing.T) {
	tests := []struct {
		v    string
		dec  uint8
		want string
	}{
		{"0", 18, "0"},
		{"1000000000000000000000000", 18, "1000000"},
		{"1500000000000000000", 18, "1.5"},
		{"1", 18, "0.000000000000000001"},
		{"123", 0, "123"},
		{"-2500", 3, "-2.5"},
		{"12x", 18, "12x"},
	}
	for _, tt := range tests {
		if got := formatUnits(tt.v, tt.dec); got != tt.want {
			t.Errorf("formatUnits(%q, %d) = %q, want %q", tt.v, tt.dec, got, tt.want)
		}
	}
}
