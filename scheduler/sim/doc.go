// Package sim is a deterministic discrete-event simulator that runs the real
// placement.Place over large synthetic swarms and compares it with simple
// strategies and a lower bound.
//
// The network is the measured inter-region latency and bandwidth published
// with Yuan et al. (NeurIPS 2022), embedded as geo-latency.json.
//
//	Config ─► world: peers in regions, GPU classes, shards on 3 random peers
//	             │
//	             ▼ per round (the same draw for every strategy)
//	          churn, busy owners, actual throughput, mid-round drop-out times
//	             │
//	   ┌─────────┴──────────┬───────────────┐
//	   ▼                    ▼               ▼
//	 strategy.assign     lower bound     (repeat per strategy)
//	   │ snapshot (at t=0 and at each re-placement): each peer's region as
//	   │ its site and the within-region link as its bandwidth, the weights
//	   │ on peers already sent a tasklet, each input's source regions, and
//	   │ (for ours) the measured links between regions
//	   ▼
//	 engine: each peer runs its tasklets in turn
//	   setup (RTT × trips) → fetch weights from the coordinator's region and
//	   the shard from its nearest source → compute (samples / throughput)
//	   │ a peer drops out ─► its unfinished tasklets are re-placed after Detect
//	   ▼
//	 round time = the slowest tasklet; bytes moved; p95 tasklet time
//	             │
//	             ▼
//	          Report.Table()
//
// Simplifications, stated so results can be judged: a link's bandwidth is
// not shared between concurrent transfers; a peer fetches the weights, then
// the shard; shards fetched in a round are not kept as new sources, so every
// round starts from the initial replicas and every strategy faces the same
// world; a shard whose holders are all absent is fetched from the
// coordinator's region, where the dataset was imported.
package sim
