// Package scheduler drives training jobs: the submitting daemon is the job's
// coordinator and runs it round by round (local SGD / DiLoCo), persisting
// every step so a restarted daemon resumes where it stopped.
//
//	submit ─▶ validate spec, admit, check dataset ─▶ persist ─▶ round r:
//	  publish weights CID ─▶ plan tasklets (shard, seed) ─▶ Machine.Tick
//	  (placement.Place per pending tasklet, minus barred, backing-off and
//	  full peers) ─▶ offer, one goroutine and context per attempt
//	  ─▶ Machine.Observe (failed/lost/declined: bar the peer from the
//	     tasklet, back it off; stragglers: a speculative copy; a winner
//	     cancels its twin) ─▶ outputs persisted one by one
//	  ─▶ outer step (trainer.OuterStep) ─▶ evaluate on validation ─▶ persist,
//	     release outputs to workers, unpin weights older than KeepRounds
//	─▶ done: final model CID, test accuracy, provenance (weights per round, receipts)
//	─▶ or failed at the deadline / when every peer is barred, keeping the
//	   last completed round's weights (job resume continues it)
//
// The round machine (machine.go) is pure: it does no I/O, takes the time
// from its caller and keeps its state in the persisted Round; drive.go is
// the runner around it, holders.go what it knows of who holds a round's
// data, retain.go what a finished round lets go of. The swarm and the data grid are reached through the
// small interfaces in deps.go.
package scheduler
