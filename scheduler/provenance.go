package scheduler

import (
	"context"
	"encoding/json"
	"fmt"
)

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
	// Settlement is the paid job's escrow, roots (each with its receipts
	// root) and their chain transactions.
	Settlement *Settlement `json:"settlement,omitempty"`
}

// ProvenanceRound is one round of a Provenance.
type ProvenanceRound struct {
	Index    int       `json:"index"`
	Weights  string    `json:"weights"`
	Tasklets []Tasklet `json:"tasklets"`
}

func ProvenanceOf(j *Job) Provenance {
	p := Provenance{Job: j.ID, Name: j.Name, Status: j.Status, Spec: j.Spec, Dataset: j.Dataset.Root, FinalModel: j.FinalModel}
	if j.Settlement != nil {
		s := *j.Settlement
		s.Closing = nil // the provenance is minted before the escrow closes
		p.Settlement = &s
	}
	for _, rd := range j.Rounds {
		ts := make([]Tasklet, 0, len(rd.Tasklets))
		for _, t := range rd.Tasklets {
			t.Attempts = nil // the accepted output and its receipt are the provenance
			ts = append(ts, t)
		}
		p.Rounds = append(p.Rounds, ProvenanceRound{Index: rd.Index, Weights: rd.Weights, Tasklets: ts})
	}
	return p
}

// provenance stores the job's provenance record in the data grid, pinned
// with the job, and returns the final model and the record's CID: what the
// model token carries. Every round's spot-check evidence is in the
// tasklets' checks.
func (c *Coordinator) provenance(ctx context.Context, r *run) (model, id string, err error) {
	r.mu.Lock()
	p := ProvenanceOf(r.job)
	jobID := r.job.ID
	r.mu.Unlock()
	b, err := json.Marshal(p)
	if err != nil {
		return "", "", fmt.Errorf("cannot encode the provenance: %w", err)
	}
	pc, err := c.grid.AddBytesOwned(ctx, jobID+"-provenance.json", b, owner(jobID, "provenance"))
	if err != nil {
		return "", "", fmt.Errorf("cannot store the provenance: %w", err)
	}
	return p.FinalModel, pc.String(), nil
}
