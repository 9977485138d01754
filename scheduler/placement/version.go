package placement

import (
	"strconv"
	"strings"
)

// version is a parsed "v1.2.3-rc.1+build" string: up to three numbers, and
// whether a pre-release suffix makes it sort before the plain release.
type version struct {
	parts [3]uint64
	pre   bool
}

// maxVersionLen bounds what parseVersion reads from a peer's record.
const maxVersionLen = 64

// parseVersion accepts "1", "1.2", "1.2.3", an optional leading "v", a
// "-pre-release" suffix and a "+build" suffix (ignored).
func parseVersion(s string) (version, bool) {
	var v version
	if s == "" || len(s) > maxVersionLen {
		return v, false
	}
	s = strings.TrimPrefix(s, "v")
	s, _, _ = strings.Cut(s, "+")
	s, pre, hasPre := strings.Cut(s, "-")
	if hasPre && pre == "" {
		return v, false
	}
	v.pre = hasPre
	fields := strings.Split(s, ".")
	if len(fields) > len(v.parts) {
		return v, false
	}
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return v, false
		}
		v.parts[i] = n
	}
	return v, true
}

// compare returns -1, 0 or 1. Pre-releases of one version compare equal to
// each other: a minimum version names a release, not a pre-release.
func (v version) compare(w version) int {
	for i := range v.parts {
		switch {
		case v.parts[i] < w.parts[i]:
			return -1
		case v.parts[i] > w.parts[i]:
			return 1
		}
	}
	switch {
	case v.pre && !w.pre:
		return -1
	case !v.pre && w.pre:
		return 1
	}
	return 0
}
