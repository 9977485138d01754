package main

import (
	"strings"
	"testing"
)

func TestRunPrintsTable(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-seeds", "2", "-tasklets", "600", "-window", "100", "-rates", "0.1,0.2"}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"2 jobs of 600 tasklets per row", "| verify.rate |", "| 0.10 |", "| 0.20 |"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	for _, bad := range [][]string{{"-seeds", "0"}, {"-rates", "x"}, {"-workers", "2"}} {
		if err := run(bad, &out); err == nil {
			t.Errorf("run(%v) succeeded, want an error", bad)
		}
	}
}

func TestWilsonLower(t *testing.T) {
	if got := wilsonLower(1000, 1000); got < 0.995 || got > 0.997 {
		t.Errorf("wilsonLower(1000, 1000) = %v, want about 0.9962", got)
	}
	if got := wilsonLower(0, 0); got != 0 {
		t.Errorf("wilsonLower(0, 0) = %v, want 0", got)
	}
}
