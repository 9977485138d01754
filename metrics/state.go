package metrics

import "github.com/prometheus/client_golang/prometheus"

// stateCollector reads Sources at scrape time.
type stateCollector struct {
	src                                                     Sources
	jobs, slotsBusy, slots                                  *prometheus.Desc
	used, quota, pinned, cached, blocks, pins, cacheEntries *prometheus.Desc
	fetched, served, fetchedBlocks, servedBlocks            *prometheus.Desc
}

func newStateCollector(src Sources) *stateCollector {
	d := func(subsystem, n, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name(subsystem, n), help, labels, nil)
	}
	return &stateCollector{
		src:           src,
		jobs:          d("", "jobs", "Jobs this node coordinates, by status.", "status"),
		slotsBusy:     d("worker", "slots_busy", "Worker slots running a tasklet now."),
		slots:         d("worker", "slots", "Worker slots in all."),
		used:          d("datagrid", "used_bytes", "Bytes of stored blocks."),
		quota:         d("datagrid", "quota_bytes", "The data grid's quota (0: none)."),
		pinned:        d("datagrid", "pinned_bytes", "Bytes of pinned DAGs."),
		cached:        d("datagrid", "cache_bytes", "Bytes of cached DAGs."),
		blocks:        d("datagrid", "blocks", "Blocks stored."),
		pins:          d("datagrid", "pins", "Pins (CID, owner)."),
		cacheEntries:  d("datagrid", "cache_entries", "Cached DAGs."),
		fetched:       d("datagrid", "fetched_bytes_total", "Bytes fetched from peers (bitswap)."),
		served:        d("datagrid", "served_bytes_total", "Bytes served to peers (bitswap)."),
		fetchedBlocks: d("datagrid", "fetched_blocks_total", "Blocks fetched from peers (bitswap)."),
		servedBlocks:  d("datagrid", "served_blocks_total", "Blocks served to peers (bitswap)."),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.jobs, c.slotsBusy, c.slots, c.used, c.quota, c.pinned, c.cached,
		c.blocks, c.pins, c.cacheEntries, c.fetched, c.served, c.fetchedBlocks, c.servedBlocks} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	if c.src.JobsByStatus != nil {
		for status, n := range c.src.JobsByStatus() {
			gauge(c.jobs, float64(n), status)
		}
	}
	if c.src.WorkerSlots != nil {
		busy, total := c.src.WorkerSlots()
		gauge(c.slotsBusy, float64(busy))
		gauge(c.slots, float64(total))
	}
	if c.src.Data != nil {
		d := c.src.Data()
		gauge(c.used, float64(d.UsedBytes))
		gauge(c.quota, float64(d.QuotaBytes))
		gauge(c.pinned, float64(d.PinnedBytes))
		gauge(c.cached, float64(d.CacheBytes))
		gauge(c.blocks, float64(d.Blocks))
		gauge(c.pins, float64(d.Pins))
		gauge(c.cacheEntries, float64(d.CacheEntries))
		counter(c.fetched, d.FetchedBytes)
		counter(c.served, d.ServedBytes)
		counter(c.fetchedBlocks, d.FetchedBlocks)
		counter(c.servedBlocks, d.ServedBlocks)
	}
}
