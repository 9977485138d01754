package config

import (
	"fmt"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// LiveKeys are the keys a running daemon takes up without a restart (through
// node_setLogLevel). A change to any other key needs a daemon restart.
var LiveKeys = []string{"log.level"}

// Live reports whether a running daemon applies key without a restart.
func Live(key string) bool {
	for _, k := range LiveKeys {
		if k == key {
			return true
		}
	}
	return false
}

// tree returns c as nested TOML tables.
func (c Config) tree() (map[string]any, error) {
	b, err := c.Marshal()
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	if _, err := toml.Decode(string(b), &m); err != nil {
		return nil, fmt.Errorf("cannot decode config: %w", err)
	}
	return m, nil
}

// Get returns the value of a dotted key such as "log.level" or "swarm" (a
// whole section) as TOML text.
func (c Config) Get(key string) (string, error) {
	m, err := c.tree()
	if err != nil {
		return "", err
	}
	var v any = m
	for _, part := range strings.Split(key, ".") {
		t, ok := v.(map[string]any)
		if !ok {
			return "", fmt.Errorf("config key %s: no such key", key)
		}
		if v, ok = t[part]; !ok {
			return "", fmt.Errorf("config key %s: no such key", key)
		}
	}
	return tomlValue(v)
}

// tomlValue writes one value as TOML: a table as its lines, anything else as
// the right-hand side of `key = value`.
func tomlValue(v any) (string, error) {
	var b strings.Builder
	if t, ok := v.(map[string]any); ok {
		if err := toml.NewEncoder(&b).Encode(t); err != nil {
			return "", fmt.Errorf("cannot encode config value: %w", err)
		}
		return strings.TrimRight(b.String(), "\n"), nil
	}
	if err := toml.NewEncoder(&b).Encode(map[string]any{"v": v}); err != nil {
		return "", fmt.Errorf("cannot encode config value: %w", err)
	}
	_, val, _ := strings.Cut(strings.TrimSpace(b.String()), " = ")
	return val, nil
}

// Set returns c with the dotted key set to value, validated as a whole. The
// value is TOML (8, true, "text", ["a", "b"]); a bare word that is not TOML
// is taken as a string. The key must already exist: a typo is an error.
func (c Config) Set(key, value string) (Config, error) {
	m, err := c.tree()
	if err != nil {
		return Config{}, err
	}
	var parsed map[string]any
	if _, err := toml.Decode("v = "+value, &parsed); err != nil {
		parsed = map[string]any{"v": value}
	}
	parts := strings.Split(key, ".")
	t := m
	for _, part := range parts[:len(parts)-1] {
		next, ok := t[part].(map[string]any)
		if !ok {
			return Config{}, fmt.Errorf("config key %s: no such key (known sections: %s)", key, sections(m))
		}
		t = next
	}
	last := parts[len(parts)-1]
	old, ok := t[last]
	if !ok {
		return Config{}, fmt.Errorf("config key %s: no such key", key)
	}
	if _, table := old.(map[string]any); table {
		return Config{}, fmt.Errorf("config key %s: is a section; set one of its keys", key)
	}
	v := parsed["v"]
	if _, isString := old.(string); isString {
		if _, ok := v.(string); !ok {
			// A string key takes the words as written: claim_threshold 5
			// is the string "5" (TOML would read an integer, which the key
			// refuses), as log.level debug is "debug".
			v = value
		}
	}
	t[last] = v
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(m); err != nil {
		return Config{}, fmt.Errorf("config key %s: cannot encode %s: %w", key, value, err)
	}
	out, err := Parse([]byte(b.String()), key)
	if err != nil {
		return Config{}, fmt.Errorf("cannot set %s to %s: %w", key, value, err)
	}
	return out, nil
}

func sections(m map[string]any) string {
	var s []string
	for k, v := range m {
		if _, ok := v.(map[string]any); ok {
			s = append(s, k)
		}
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}
