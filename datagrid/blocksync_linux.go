//go:build linux

package datagrid

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// openFlush returns a flush of dir's file system by syncfs(2), and the
// directory it holds open for that, which the caller closes with the
// store.
func openFlush(dir string) (func() error, *os.File, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot open %s to flush it: %w", dir, err)
	}
	fd := int(d.Fd())
	return func() error {
		if err := unix.Syncfs(fd); err != nil {
			return fmt.Errorf("syncfs %s: %w", dir, err)
		}
		return nil
	}, d, nil
}
