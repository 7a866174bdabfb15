package worker

import (
	"fmt"
	"testing"
	"time"

	"github.com/kybflow/kybflow/internal/sandbox"
)

// BenchmarkPipeline measures lookups through the whole pipeline (command →
// session → poll → JSON and one PDF stored in a directory → completed
// event), against the sandbox with results ready at once, so it measures
// our own overhead: NATS round trips, KV writes, HTTP calls, storage.
// Run: go test ./internal/worker -run '^$' -bench Pipeline -benchtime 200x
func BenchmarkPipeline(b *testing.B) {
	e := newEnv(b, envOptions{sandbox: sandbox.Config{ReadyAfter: time.Nanosecond, ReportInterval: time.Nanosecond}})
	e.start(false, 0)
	cfg := e.config(false)
	cfg.PollInitial, cfg.PollMax, cfg.Concurrency, cfg.Log.Level = 5*time.Millisecond, 20*time.Millisecond, 32, "error"
	e.startWorker(cfg)

	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		e.publish(cmd{LookupID: fmt.Sprintf("bench-%d-%d", b.N, i), Type: "organization", Identifier: "923609016", Reports: []string{"aml"}}, "")
	}
	for i := 0; i < b.N; i++ {
		e.terminal(fmt.Sprintf("bench-%d-%d", b.N, i), 5*time.Minute)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "lookups/s")
}
