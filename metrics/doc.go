// Package metrics defines every gridswarm_* Prometheus series in one place.
// A node creates one Set on its own registry (no global registry); the parts
// that do the work count through small interfaces they declare themselves
// (worker.Metrics, datagrid.Metrics), which the Set's parts satisfy.
//
//	worker ──Offer/Tasklet──▶ Worker ─┐
//	datagrid ──Added/Evicted─▶ Data ──┤
//	node (coordinator events) ▶ Jobs ─┼─▶ prometheus.Registry ─▶ /metrics
//	verify (later) ─────────▶ Verify ─┤
//	settle (later) ─────────▶ Settle ─┘
//
// Gauges that mirror state (jobs by status, busy slots, blocks, pins) are
// read at scrape time from the Sources the node passes in, so they can
// never drift from what job_list or data_stat say.
package metrics
