package config

import (
	"strings"
	"testing"
)

func TestGetSet(t *testing.T) {
	c, err := Default(ProfileLocal)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key, value string
		want       string // Get after Set; "" when Set must fail
		errHas     string
	}{
		{key: "log.level", value: "debug", want: `"debug"`},
		{key: "log.level", value: `"warn"`, want: `"warn"`},
		{key: "log.level", value: "loud", errHas: "log.level"},
		{key: "log.nosuch", value: "1", errHas: "no such key"},
		{key: "nosuch.level", value: "1", errHas: "no such key"},
		{key: "log", value: "1", errHas: "section"},
		{key: "settle.claim_threshold", value: "1000000", want: `"1000000"`},
		{key: "settle.claim_threshold", value: "0.5", want: `"0.5"`},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			got, err := c.Set(tt.key, tt.value)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("Set: err = %v, want one naming %q", err, tt.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			v, err := got.Get(tt.key)
			if err != nil {
				t.Fatal(err)
			}
			if v != tt.want {
				t.Fatalf("Get = %s, want %s", v, tt.want)
			}
			if orig, _ := c.Get(tt.key); orig == v {
				t.Fatalf("Set changed the receiver or nothing: %s", orig)
			}
		})
	}
	if _, err := c.Get("log"); err != nil {
		t.Fatalf("Get of a section: %v", err)
	}
	if !Live("log.level") || Live("swarm.listen") {
		t.Fatal("Live: only log.level is live")
	}
}
