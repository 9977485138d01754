// Package units formats quantities for people and reads amounts of tokens
// back (shared by the daemon and the CLI, which must not import it).
package units

import "fmt"

// Bytes formats n with binary units and one decimal: "64.0 MiB".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
