package jobspec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Size is a number of bytes. In YAML it is a non-negative integer or a
// string with a unit: "512MiB", "6 GiB", "1.5GB". Units are B, KiB, MiB,
// GiB, TiB (powers of 1024) and KB, MB, GB, TB (powers of 1000), in any
// letter case. In JSON it is an integer.
type Size uint64

const sizeHelp = `must be a size in bytes: an integer or a string like "6GiB" (units B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)`

var sizePattern = regexp.MustCompile(`^([0-9]{1,30}(?:\.[0-9]{1,30})?) ?([A-Za-z]{0,3})$`)

// sizeUnit returns the bytes in one unit (lower case), or 0 if unknown.
func sizeUnit(u string) uint64 {
	switch u {
	case "", "b":
		return 1
	case "kib":
		return 1 << 10
	case "mib":
		return 1 << 20
	case "gib":
		return 1 << 30
	case "tib":
		return 1 << 40
	case "kb":
		return 1e3
	case "mb":
		return 1e6
	case "gb":
		return 1e9
	case "tb":
		return 1e12
	}
	return 0
}

// ParseSize reads a size string such as "6GiB", "1.5 GB" or "4096". The
// result must be a whole number of bytes that fits in 64 bits.
func ParseSize(s string) (Size, error) {
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("%s, got %s", sizeHelp, quote(s))
	}
	unit := sizeUnit(strings.ToLower(m[2]))
	if unit == 0 {
		return 0, fmt.Errorf("%s, got %s: unknown unit %s", sizeHelp, quote(s), quote(m[2]))
	}
	r, ok := new(big.Rat).SetString(m[1])
	if !ok {
		return 0, fmt.Errorf("%s, got %s", sizeHelp, quote(s))
	}
	r.Mul(r, new(big.Rat).SetUint64(unit))
	if !r.IsInt() {
		return 0, fmt.Errorf("%s is not a whole number of bytes", quote(s))
	}
	n := r.Num()
	if !n.IsUint64() {
		return 0, fmt.Errorf("%s is larger than %d bytes", quote(s), uint64(math.MaxUint64))
	}
	return Size(n.Uint64()), nil
}

// String writes the size with the largest binary unit that divides it
// exactly: 6442450944 is "6GiB", 1000 is "1000B".
func (z Size) String() string {
	for _, u := range []struct {
		name string
		n    uint64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if z != 0 && uint64(z)%u.n == 0 {
			return strconv.FormatUint(uint64(z)/u.n, 10) + u.name
		}
	}
	return strconv.FormatUint(uint64(z), 10) + "B"
}

// UnmarshalYAML reads an integer or a size string.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New(sizeHelp + ", got " + nodeKindName(n))
	}
	if n.ShortTag() == "!!int" {
		var u uint64
		if err := n.Decode(&u); err != nil {
			return fmt.Errorf("%s, got %s", sizeHelp, n.Value)
		}
		*z = Size(u)
		return nil
	}
	if n.ShortTag() != "!!str" {
		return fmt.Errorf("%s, got %s", sizeHelp, n.Value)
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// UnmarshalJSON reads an integer or a size string.
func (z *Size) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := ParseSize(s)
		*z = v
		return err
	}
	var u uint64
	if err := json.Unmarshal(b, &u); err != nil {
		return fmt.Errorf("%s, got %s", sizeHelp, quote(string(b)))
	}
	*z = Size(u)
	return nil
}

// Duration is a span of time written the Go way: "90m", "2h", "1h30m".
// Zero means none.
type Duration time.Duration

const durationHelp = `must be a duration like "90m" or "2h" (units ns, us, ms, s, m, h)`

// ParseDuration reads a Go duration string; a bare number is refused
// because its unit would be a guess.
func ParseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s, got %s", durationHelp, quote(s))
	}
	return Duration(d), nil
}

// String writes d the Go way without trailing zero units: "2h", "1h30m",
// "90s", "0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// UnmarshalYAML reads a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		got := n.Value
		if n.Kind != yaml.ScalarNode {
			got = nodeKindName(n)
		}
		return fmt.Errorf("%s, got %s", durationHelp, got)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration string, so yaml.Marshal round-trips.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("%s, got %s", durationHelp, quote(string(b)))
	}
	v, err := ParseDuration(s)
	*d = v
	return err
}

// TaskletCount is tasklets_per_round: AutoTasklets, written "auto", or a
// fixed count. An explicit 0 is refused when reading, since 0 stands for
// "auto".
type TaskletCount int

// AutoTasklets means one tasklet per available peer, capped by the number
// of training shards (see Spec.TaskletsFor).
const AutoTasklets TaskletCount = 0

const autoWord = "auto"

func taskletHelp(got string) error {
	return fmt.Errorf(`must be "auto" or an integer between 1 and %d, got %s`, MaxTasklets, got)
}

// UnmarshalYAML reads "auto" or an integer.
func (t *TaskletCount) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind != yaml.ScalarNode:
		return taskletHelp(nodeKindName(n))
	case n.ShortTag() == "!!str" && n.Value == autoWord:
		*t = AutoTasklets
		return nil
	case n.ShortTag() != "!!int":
		return taskletHelp(scalarForMsg(n))
	}
	var v int
	if err := n.Decode(&v); err != nil || v == 0 {
		return taskletHelp(n.Value)
	}
	*t = TaskletCount(v)
	return nil
}

// MarshalYAML writes "auto" or the count.
func (t TaskletCount) MarshalYAML() (any, error) {
	if t == AutoTasklets {
		return autoWord, nil
	}
	return int(t), nil
}

// MarshalJSON writes "auto" or the count.
func (t TaskletCount) MarshalJSON() ([]byte, error) {
	if t == AutoTasklets {
		return []byte(`"` + autoWord + `"`), nil
	}
	return []byte(strconv.Itoa(int(t))), nil
}

// UnmarshalJSON reads "auto" or an integer.
func (t *TaskletCount) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		if s != autoWord {
			return taskletHelp(quote(s))
		}
		*t = AutoTasklets
		return nil
	}
	var v int
	if err := json.Unmarshal(b, &v); err != nil || v == 0 {
		return taskletHelp(quote(string(b)))
	}
	*t = TaskletCount(v)
	return nil
}

// String writes "auto" or the count.
func (t TaskletCount) String() string {
	if t == AutoTasklets {
		return autoWord
	}
	return strconv.Itoa(int(t))
}
