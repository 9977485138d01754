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
			_ = enc.Encode(provenanceOf(j))
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

// Provenance is what a job's model came from: every round's weights, the
// accepted outputs and their signed receipts.
type Provenance struct {
	Job        string            `json:"job"`
	Name       string            `json:"name"`
	Status     string            `json:"status"`
	Spec       json.RawMessage   `json:"spec"`
	Dataset    string            `json:"dataset"`
	FinalModel string            `json:"final_model,omitempty"`
	Rounds     []ProvenanceRound `json:"rounds"`
}

// ProvenanceRound is one round of a Provenance.
type ProvenanceRound struct {
	Index    int                 `json:"index"`
	Weights  string              `json:"weights"`
	Tasklets []scheduler.Tasklet `json:"tasklets"`
}

func provenanceOf(j *scheduler.Job) Provenance {
	p := Provenance{Job: j.ID, Name: j.Name, Status: j.Status, Spec: j.Spec, Dataset: j.Dataset.Root, FinalModel: j.FinalModel}
	for _, rd := range j.Rounds {
		ts := make([]scheduler.Tasklet, 0, len(rd.Tasklets))
		for _, t := range rd.Tasklets {
			t.Attempts = nil // the accepted output and its receipt are the provenance
			ts = append(ts, t)
		}
		p.Rounds = append(p.Rounds, ProvenanceRound{Index: rd.Index, Weights: rd.Weights, Tasklets: ts})
	}
	return p
}
