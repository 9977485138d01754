//go:build !linux

package testnet

import (
	"context"
	"errors"
	"net"
)

// DialContext needs Linux network namespaces.
func (h *Host) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return nil, errors.New("testnet: dialling into a network namespace needs Linux")
}
