package repo

import (
	"encoding/json"
	"fmt"

	"github.com/gridswarm/gridswarm/internal/fsutil"
	"github.com/gridswarm/gridswarm/node/repo/endpoint"
)

// Endpoint is what a ready daemon writes for its CLI and for tools. It is
// defined in package endpoint, which the client reads it with.
type Endpoint = endpoint.Endpoint

// ErrNoDaemon is returned by ReadEndpoint when no daemon runs on the repo.
var ErrNoDaemon = endpoint.ErrNoDaemon

// ErrStarting is returned by ReadEndpoint while a daemon holds the repo but
// is not ready yet.
var ErrStarting = endpoint.ErrStarting

// WriteEndpoint publishes the daemon's addresses atomically.
func (r *Repo) WriteEndpoint(e Endpoint) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode endpoint: %w", err)
	}
	return fsutil.WriteFile(r.path(EndpointFile), b, 0o600)
}

// ReadEndpoint finds the daemon serving dir (see endpoint.Read).
func ReadEndpoint(dir string) (Endpoint, error) { return endpoint.Read(dir) }

// Locked reports whether a live process holds dir's lock.
func Locked(dir string) bool { return endpoint.Locked(dir) }
