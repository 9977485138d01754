package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gridswarm/gridswarm/scheduler"
)

// maxDownloadBytes caps a model served to the dashboard: the file is read
// into memory whole.
const maxDownloadBytes = 512 << 20

// downloadHandler serves a job's model and provenance to the dashboard:
//
//	GET /download/job/<id>/model.safetensors
//	GET /download/job/<id>/provenance.json
//
// api.Guard has checked the Host, the Origin and the credentials.
func (n *Node) downloadHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "downloads are GET only", http.StatusMethodNotAllowed)
			return
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/download/"), "/")
		if len(parts) != 3 || parts[0] != "job" {
			http.Error(w, "not found: downloads are /download/job/<id>/model.safetensors or /download/job/<id>/provenance.json", http.StatusNotFound)
			return
		}
		j, err := n.coord.Get(parts[1])
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		switch parts[2] {
		case "model.safetensors":
			n.serveModel(r.Context(), w, j)
		case "provenance.json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-provenance.json"`, j.ID))
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(scheduler.ProvenanceOf(j))
		default:
			http.Error(w, "not found: a job has model.safetensors and provenance.json", http.StatusNotFound)
		}
	})
}

func (n *Node) serveModel(ctx context.Context, w http.ResponseWriter, j *scheduler.Job) {
	model, err := modelOf(j)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	c, err := parseCID(model)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	b, err := n.grid.ReadFile(ctx, c, maxDownloadBytes)
	if err != nil {
		http.Error(w, fmt.Sprintf("cannot read model %s: %v", model, err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.safetensors"`, j.ID, model))
	w.Header().Set("X-Gridswarm-CID", model)
	_, _ = w.Write(b)
}
