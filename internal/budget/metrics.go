package budget

// The budget left, for /metrics.

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector is a prometheus.Collector of the sessions each limit's current
// window has left (kybflow_session_budget_left) and its size
// (kybflow_session_budget_max), read from the bucket on every scrape, at
// most timeout long; a scrape that cannot read them leaves them out.
type Collector struct {
	b        *Budget
	timeout  time.Duration
	left, mx *prometheus.Desc
}

// NewCollector makes the collector of b.
func NewCollector(b *Budget, timeout time.Duration) *Collector {
	label := []string{"window"}
	return &Collector{b: b, timeout: timeout,
		left: prometheus.NewDesc("kybflow_session_budget_left", "Sessions the current window of a SESSION_BUDGET limit has left (on-demand lookups may use them all; monitor runs leave the reserve).", label, nil),
		mx:   prometheus.NewDesc("kybflow_session_budget_max", "Sessions a window of a SESSION_BUDGET limit allows.", label, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.left
	ch <- c.mx
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	if !c.b.Limited() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	left, err := c.b.Left(ctx)
	if err != nil {
		return
	}
	for l, n := range left {
		w := shortDuration(l.Window)
		ch <- prometheus.MustNewConstMetric(c.left, prometheus.GaugeValue, float64(n), w)
		ch <- prometheus.MustNewConstMetric(c.mx, prometheus.GaugeValue, float64(l.Max), w)
	}
}
