// Package config holds the daemon's config.toml: its schema, the defaults for
// each profile, strict loading (an unknown key is an error that names it) and
// validation that names the offending key.
//
//	config.toml ──Load──▶ Config ──Validate──▶ node.New
//	Default(profile) ──Write──▶ config.toml (every default written out, commented)
package config
