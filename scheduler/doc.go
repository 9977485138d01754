// Package scheduler drives training jobs: the submitting daemon is the job's
// coordinator and runs it round by round (local SGD / DiLoCo), persisting
// every step so a restarted daemon resumes where it stopped.
//
//	submit ─▶ validate spec, check dataset ─▶ persist ─▶ round r:
//	  publish weights CID ─▶ plan tasklets (shard, seed) ─▶ placement.Place
//	  ─▶ offer (decline/timeout/loss: re-place with backoff; stragglers: a
//	     speculative copy) ─▶ collect outputs (persisted one by one)
//	  ─▶ outer step (trainer.OuterStep) ─▶ evaluate on validation ─▶ persist
//	─▶ done: final model CID, test accuracy, provenance (weights per round, receipts)
//
// Placement, planning and the state machine are plain data; the swarm and
// the data grid are reached through the small interfaces in deps.go.
package scheduler
