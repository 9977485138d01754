package jobspec

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{"0", 0, ""},
		{"4096", 4096, ""},
		{"1B", 1, ""},
		{"6GiB", 6 << 30, ""},
		{"6 GiB", 6 << 30, ""},
		{"6gib", 6 << 30, ""},
		{"512MiB", 512 << 20, ""},
		{"1KiB", 1024, ""},
		{"2TiB", 2 << 40, ""},
		{"1KB", 1000, ""},
		{"1.5GB", 1500000000, ""},
		{"1.1GB", 1100000000, ""},
		{"0.5KiB", 512, ""},
		{"3MB", 3000000, ""},
		{"16777216TiB", 0, "larger than"},
		{"0.5B", 0, "not a whole number of bytes"},
		{"6 gigs", 0, "must be a size in bytes"},
		{"6PB", 0, `unknown unit "PB"`},
		{"-1GiB", 0, "must be a size in bytes"},
		{"1e9", 0, "must be a size in bytes"},
		{"", 0, "must be a size in bytes"},
		{"6  GiB", 0, "must be a size in bytes"},
		{"GiB", 0, "must be a size in bytes"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("ParseSize(%q) = %d, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestSizeString(t *testing.T) {
	tests := []struct {
		in   Size
		want string
	}{{0, "0B"}, {1000, "1000B"}, {1024, "1KiB"}, {6 << 30, "6GiB"}, {1536 << 20, "1536MiB"}, {3 << 40, "3TiB"}}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Size(%d).String() = %q, want %q", uint64(tt.in), got, tt.want)
		}
		if back, err := ParseSize(tt.want); err != nil || back != tt.in {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.want, back, err, uint64(tt.in))
		}
	}
}

func TestSizeYAMLAndJSON(t *testing.T) {
	tests := []struct {
		yaml, json string
		want       Size
	}{{"1024", "1024", 1024}, {"0x10", `"16"`, 16}, {"6GiB", `"6GiB"`, 6 << 30}, {`"1 KB"`, `"1 KB"`, 1000}}
	for _, tt := range tests {
		var y, j Size
		if err := yaml.Unmarshal([]byte(tt.yaml), &y); err != nil || y != tt.want {
			t.Errorf("yaml %s → %d, %v; want %d", tt.yaml, y, err, tt.want)
		}
		if err := json.Unmarshal([]byte(tt.json), &j); err != nil || j != tt.want {
			t.Errorf("json %s → %d, %v; want %d", tt.json, j, err, tt.want)
		}
	}
	var z Size
	for _, bad := range []string{"1.5", "true", "[1]", "-3"} {
		if err := yaml.Unmarshal([]byte(bad), &z); err == nil {
			t.Errorf("yaml %s decoded to Size %d, want an error", bad, z)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		str  string
	}{
		{"2h", 2 * time.Hour, "2h"},
		{"90m", 90 * time.Minute, "1h30m"},
		{"1h30m", 90 * time.Minute, "1h30m"},
		{"45s", 45 * time.Second, "45s"},
		{"1m", time.Minute, "1m"},
		{"1h0m5s", time.Hour + 5*time.Second, "1h0m5s"},
		{"1.5h", 90 * time.Minute, "1h30m"},
		{"0s", 0, "0s"},
		{"-2h", -2 * time.Hour, "-2h"},
	}
	for _, tt := range tests {
		d, err := ParseDuration(tt.in)
		if err != nil || time.Duration(d) != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, time.Duration(d), err, tt.want)
			continue
		}
		if got := d.String(); got != tt.str {
			t.Errorf("Duration(%v).String() = %q, want %q", tt.want, got, tt.str)
		}
		b, _ := json.Marshal(d)
		var back Duration
		if err := json.Unmarshal(b, &back); err != nil || back != d {
			t.Errorf("JSON round trip of %v via %s = %v, %v", tt.want, b, time.Duration(back), err)
		}
		y, _ := yaml.Marshal(d)
		var yback Duration
		if err := yaml.Unmarshal(y, &yback); err != nil || yback != d {
			t.Errorf("YAML round trip of %v via %q = %v, %v", tt.want, y, time.Duration(yback), err)
		}
	}
	var d Duration
	for _, bad := range []string{"90", "2 days", "[1h]", "1.5"} {
		if err := yaml.Unmarshal([]byte(bad), &d); err == nil {
			t.Errorf("yaml %s decoded to Duration %v, want an error", bad, time.Duration(d))
		}
	}
}

func TestTaskletCount(t *testing.T) {
	tests := []struct {
		yaml, json string
		want       TaskletCount
	}{{"auto", `"auto"`, AutoTasklets}, {"1", "1", 1}, {"1024", "1024", 1024}, {"-3", "-3", -3}}
	for _, tt := range tests {
		var y, j TaskletCount
		if err := yaml.Unmarshal([]byte(tt.yaml), &y); err != nil || y != tt.want {
			t.Errorf("yaml %s → %v, %v; want %v", tt.yaml, y, err, tt.want)
		}
		if err := json.Unmarshal([]byte(tt.json), &j); err != nil || j != tt.want {
			t.Errorf("json %s → %v, %v; want %v", tt.json, j, err, tt.want)
		}
		if b, err := json.Marshal(tt.want); err != nil || string(b) != tt.json {
			t.Errorf("json.Marshal(%v) = %s, %v; want %s", tt.want, b, err, tt.json)
		}
		if b, err := yaml.Marshal(tt.want); err != nil || strings.TrimSpace(string(b)) != tt.yaml {
			t.Errorf("yaml.Marshal(%v) = %q, %v; want %s", tt.want, b, err, tt.yaml)
		}
	}
	var c TaskletCount
	for _, bad := range []string{"0", "many", "Auto", "1.5", `"8"`, "[1]"} {
		if err := yaml.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("yaml %s decoded to %v, want an error", bad, c)
		}
	}
	for _, bad := range []string{"0", `"many"`, "1.5", "{}"} {
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("json %s decoded to %v, want an error", bad, c)
		}
	}
}
