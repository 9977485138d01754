package node

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gridswarm/gridswarm/api"
	"github.com/gridswarm/gridswarm/metrics"
)

// LoginInfo is node_dashboardLogin's answer (package api).
type LoginInfo = api.LoginInfo

// DashboardLogin mints a one-time login token for the web dashboard and
// returns the URL that exchanges it for a session cookie. The token works
// once, within api.DefaultLoginTTL.
func (s *NodeService) DashboardLogin() (LoginInfo, error) {
	tok, exp, err := s.n.sessions.MintLogin()
	if err != nil {
		return LoginInfo{}, err
	}
	base := "http://" + s.n.api.Addr()
	return LoginInfo{URL: base + "/login?t=" + url.QueryEscape(tok), Dashboard: base + "/ui/", Expires: exp.UTC()}, nil
}

// Reputation returns the coordinator's reputation of every peer in the peer
// table: its share of accepted tasklets, 0.5 for a peer never tried.
func (s *PeerService) Reputation() map[string]float64 {
	out := map[string]float64{}
	for _, p := range s.n.swarm.Peers().List() {
		out[p.ID.String()] = s.n.measure.Reputation(p.ID.String())
	}
	return out
}

// newMetrics creates the node's metric set on its registry; the state
// gauges read the node's parts at scrape time, once they exist.
func (n *Node) newMetrics() (*metrics.Set, error) {
	return metrics.New(n.reg, metrics.Sources{
		JobsByStatus: func() map[string]int {
			out := map[string]int{}
			if n.coord == nil {
				return out
			}
			jobs, err := n.coord.List()
			if err != nil {
				n.log.Warn("metrics: cannot list jobs", "err", err)
				return out
			}
			for _, j := range jobs {
				out[j.Status]++
			}
			return out
		},
		WorkerSlots: func() (int, int) {
			if n.worker == nil {
				return 0, 0
			}
			st := n.worker.Status()
			return st.SlotsInUse, st.Slots
		},
		Data: func() metrics.DataStat {
			if n.grid == nil {
				return metrics.DataStat{}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			st, err := n.grid.Stat(ctx)
			if err != nil {
				n.log.Warn("metrics: cannot read the data grid's state", "err", err)
			}
			ex, err := n.grid.Exchange()
			if err != nil {
				n.log.Warn("metrics: cannot read bitswap's counters", "err", err)
			}
			return metrics.DataStat{
				UsedBytes: st.UsedBytes, QuotaBytes: st.QuotaBytes, PinnedBytes: st.PinnedBytes, CacheBytes: st.CacheBytes,
				Blocks: st.Blocks, Pins: st.Pins, CacheEntries: st.CacheEntries,
				FetchedBytes: ex.FetchedBytes, ServedBytes: ex.ServedBytes, FetchedBlocks: ex.FetchedBlocks, ServedBlocks: ex.ServedBlocks,
			}
		},
	})
}

func (n *Node) metricsHandler() http.Handler {
	return promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{})
}
