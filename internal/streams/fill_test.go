package streams

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kybflow/kybflow/internal/natsembed"
	"github.com/kybflow/kybflow/internal/testenv"
)

// gatherFill scrapes a fresh registry holding only c, as /metrics would:
// kybflow_stream_* by name, then by stream.
func gatherFill(t *testing.T, c prometheus.Collector) map[string]map[string]float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]float64{}
	for _, mf := range mfs {
		got[mf.GetName()] = map[string]float64{}
		for _, m := range mf.GetMetric() {
			got[mf.GetName()][m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return got
}

func TestFillCollectorReportsEveryStream(t *testing.T) {
	js := testenv.JetStream(t)
	topo := boundedTopology(t)
	c := NewFillCollector(js, topo, 2*time.Second)
	if got := gatherFill(t, c); len(got) != 0 {
		t.Errorf("before the streams exist: %v, want no series", got)
	}

	if _, err := Ensure(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(context.Background(), "aml.commands.lookup", bytes.Repeat([]byte("c"), 1000), jetstream.WithMsgID(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	held := streamConfig(t, js, "AML_COMMANDS").State.Bytes
	got := gatherFill(t, c)
	if b, m := got["kybflow_stream_bytes"]["AML_COMMANDS"], got["kybflow_stream_messages"]["AML_COMMANDS"]; b != float64(held) || m != 3 {
		t.Errorf("AML_COMMANDS: %v bytes, %v messages; want %d, 3", b, m, held)
	}
	for name, want := range map[string]int64{
		"AML_COMMANDS": topo.CommandsMaxBytes, "AML_CHECKS": topo.ChecksMaxBytes, "AML_WEBHOOKS": topo.WebhooksMaxBytes,
		"AML_EVENTS": topo.EventsMaxBytes, "AML_DEADLETTER": topo.DeadLetterMaxBytes, "KV_AML_LOOKUPS": topo.LookupsMaxBytes,
	} {
		if v, ok := got["kybflow_stream_max_bytes"][name]; !ok || v != float64(want) {
			t.Errorf("kybflow_stream_max_bytes{stream=%q} = %v (present %t), want %d", name, v, ok, want)
		}
		if _, ok := got["kybflow_stream_bytes"][name]; !ok {
			t.Errorf("no kybflow_stream_bytes{stream=%q}", name)
		}
	}
}

// With NATS down, a scrape answers at once, without the stream series.
func TestFillCollectorDoesNotWaitForNATSDown(t *testing.T) {
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	topo := boundedTopology(t)
	if _, err := Ensure(context.Background(), js, topo); err != nil {
		t.Fatal(err)
	}
	c := NewFillCollector(js, topo, 10*time.Second)
	if got := gatherFill(t, c); len(got["kybflow_stream_bytes"]) != 7 {
		t.Fatalf("with NATS up: %v, want 7 streams (the six and KV_AML_LOOKUPS)", got)
	}

	srv.Shutdown()
	testenv.Eventually(t, 10*time.Second, func() error {
		if nc.IsConnected() {
			return errors.New("still connected")
		}
		return nil
	})
	start := time.Now()
	got := gatherFill(t, c)
	if d := time.Since(start); d > time.Second {
		t.Errorf("a scrape with NATS down took %s", d)
	}
	if len(got) != 0 {
		t.Errorf("with NATS down: %v, want no series", got)
	}
}
