package streams

// How full the streams and the bucket are, for /metrics.

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// FillCollector is a prometheus.Collector of the bytes and messages each
// stream of a topology (and its bucket, as the stream KV_<bucket>) holds,
// and its MaxBytes, read from JetStream on every scrape: a full stream
// that discards new messages refuses publishes (see Topology.streams), so
// an operator watches kybflow_stream_bytes / kybflow_stream_max_bytes.
//
// A scrape waits for JetStream at most the collector's timeout, all
// streams together, and not at all while the connection is down: then the
// series are left out, and /metrics still answers at once.
type FillCollector struct {
	js      jetstream.JetStream
	names   []string
	timeout time.Duration

	bytes, maxBytes, msgs *prometheus.Desc
}

// NewFillCollector makes the collector of t's streams and bucket on js,
// whose reads together take at most timeout per scrape.
func NewFillCollector(js jetstream.JetStream, t Topology, timeout time.Duration) *FillCollector {
	c := &FillCollector{js: js, timeout: timeout}
	for _, cfg := range t.streams() {
		c.names = append(c.names, cfg.Name)
	}
	c.names = append(c.names, "KV_"+t.bucket().Bucket)
	label := []string{"stream"}
	c.bytes = prometheus.NewDesc("kybflow_stream_bytes", "Bytes the stream holds (the lookups bucket is the stream KV_<bucket>).", label, nil)
	c.maxBytes = prometheus.NewDesc("kybflow_stream_max_bytes", "The stream's MaxBytes (its *_MAX_BYTES setting): once full, it refuses new messages (AML_WEBHOOKS drops its oldest).", label, nil)
	c.msgs = prometheus.NewDesc("kybflow_stream_messages", "Messages the stream holds.", label, nil)
	return c
}

// Describe implements prometheus.Collector.
func (c *FillCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.bytes
	ch <- c.maxBytes
	ch <- c.msgs
}

// Collect implements prometheus.Collector: one stream info request per
// stream, one after the other, within the timeout. A stream that cannot
// be read (not made yet, JetStream without a leader) is left out.
func (c *FillCollector) Collect(ch chan<- prometheus.Metric) {
	if !c.js.Conn().IsConnected() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for _, name := range c.names {
		st, err := c.js.Stream(ctx, name)
		if ctx.Err() != nil {
			return // out of time: the others would fail at once too
		}
		if err != nil {
			continue
		}
		info := st.CachedInfo()
		ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(info.State.Bytes), name)
		ch <- prometheus.MustNewConstMetric(c.msgs, prometheus.GaugeValue, float64(info.State.Msgs), name)
		if info.Config.MaxBytes > 0 {
			ch <- prometheus.MustNewConstMetric(c.maxBytes, prometheus.GaugeValue, float64(info.Config.MaxBytes), name)
		}
	}
}
