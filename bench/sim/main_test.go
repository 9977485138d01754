package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-peers", "300", "-tasklets", "20", "-rounds", "1", "-seed", "4"}, &out); err != nil {
		t.Fatalf("run() error = %v", err)
	}
	for _, want := range []string{"world_wide_8: 300 peers, 20 tasklets x 1 rounds", "ours ", "random ", "lower bound "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if err := run([]string{"-peers", "0"}, &out); err == nil {
		t.Error("run(-peers 0) = nil error, want one")
	}
	if err := run([]string{"-bogus"}, &out); err == nil {
		t.Error("run(-bogus) = nil error, want one")
	}
}
