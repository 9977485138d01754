package settle

import (
	"fmt"

	"github.com/gridswarm/gridswarm/receipt"
	"github.com/gridswarm/gridswarm/settle/bindings"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
)

// StakeReceipt converts r to the struct WorkerStake hashes: CIDs and peer
// IDs in their binary forms, exactly as receipt.StructHash encodes them
// (TestReceiptHashMatchesContract checks that the two agree).
func StakeReceipt(r receipt.Receipt) (bindings.WorkerStakeReceipt, error) {
	var out bindings.WorkerStakeReceipt
	if err := r.Validate(); err != nil {
		return out, err
	}
	// Validate has parsed each of these already; errors cannot happen here.
	tasklet, _ := cid.Decode(r.TaskletCID)
	output, _ := cid.Decode(r.OutputCID)
	workerPeer, _ := peer.Decode(r.WorkerPeer)
	coordinator, _ := peer.Decode(r.Coordinator)
	price, _ := receipt.ParsePrice(r.Price)
	if r.StartedAt < 0 || r.FinishedAt < 0 {
		return out, fmt.Errorf("receipt times must not be negative")
	}
	return bindings.WorkerStakeReceipt{
		TaskletCid:    tasklet.Bytes(),
		OutputCid:     output.Bytes(),
		Worker:        r.Worker,
		WorkerPeer:    []byte(workerPeer),
		Coordinator:   []byte(coordinator),
		JobId:         r.JobID,
		Round:         r.Round,
		Samples:       r.Samples,
		LossBits:      r.LossBits,
		StartedAt:     uint64(r.StartedAt),
		FinishedAt:    uint64(r.FinishedAt),
		ComputeMillis: r.ComputeMillis,
		Price:         price,
	}, nil
}
