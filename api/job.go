package api

// Summary is one row of job_list and job_submit's answer.
type Summary struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Status       string  `json:"status"`
	Round        int     `json:"round"`
	Rounds       int     `json:"rounds"`
	ValAccuracy  float64 `json:"val_accuracy,omitempty"`
	TestAccuracy float64 `json:"test_accuracy,omitempty"`
	Waiting      string  `json:"waiting,omitempty"`
	Error        string  `json:"error,omitempty"`
}

// OfferOptions tune tasklet_offer.
type OfferOptions struct {
	Op                      string  `json:"op,omitempty"`
	HeartbeatTimeoutSeconds float64 `json:"heartbeat_timeout_seconds,omitempty"`
}

// LocalResult is tasklet_runLocal's answer.
type LocalResult struct {
	SpecCID   string `json:"spec_cid"`
	OutputCID string `json:"output_cid"`
	Samples   uint64 `json:"samples"`
	// Loss is the tasklet's training loss as its receipt would report it:
	// for builtin tasklets the mean minibatch loss over its steps. It is
	// the same quantity as tasklet_offer's loss.
	Loss    float32            `json:"loss"`
	Metrics map[string]float64 `json:"metrics,omitempty"` // the executor's extra figures (builtin: final_loss, steps)
	Seconds float64            `json:"seconds"`
}

// RmResult is job_rm's answer.
type RmResult struct {
	ID       string `json:"id"`
	Released int    `json:"released_pins"` // data-grid pins the job held
}
