package e2e

// BenchmarkMonitorsAtRest (issue 20, item 8, its first half): what a
// portfolio of monitors costs while none of them runs. MONITORS_N monitors
// (default 100,000) are created through a worker process started as the
// scale benchmarks start it (scale_env_test.go), each with its own
// monitorId and an interval of 720 h, so that no schedule fires during the
// run. The create commands are published on aml.commands.monitor as fast as
// JetStream takes them (asynchronous publishes, scalePublishBatch
// outstanding at most). Once the worker has applied all of them (N records
// in KV AML_MONITORS, N schedules in AML_SCHEDULES) and its commands
// consumer has nothing pending or unacknowledged, the benchmark reads:
//
//   - the bytes JetStream holds for KV_AML_MONITORS and AML_SCHEDULES
//     (stream info, State.Bytes), in total and per monitor;
//   - the time from the first publish to the last monitor applied, and the
//     rate;
//   - the worker's VmRSS (/proc/<pid>/status) then, against its VmRSS once
//     ready and before any monitor, and its peak (VmHWM).
//
// Run it with:
//
//	MINIO_BIN="$(./scripts/install-tools.sh | tail -n 1)" MONITORS_N=100000 \
//	  go test -run '^$' -bench '^BenchmarkMonitorsAtRest$' -benchtime 1x -timeout 40m ./e2e

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

const (
	// monitorsDefaultN is how many monitors BenchmarkMonitorsAtRest
	// creates without MONITORS_N: the portfolio of issue 20.
	monitorsDefaultN = 100_000
	// monitorsEvery is their cadence: far longer than a run, so none fires.
	monitorsEvery = "720h"
)

// monitorsCreate is the create command of monitor id.
func monitorsCreate(id string) []byte {
	return fmt.Appendf(nil, `{"action":"create","monitorId":%q,"lookup":{"type":"organization","country":"NO","identifier":%q},"schedule":{"every":%q}}`,
		id, scaleIdentifier, monitorsEvery)
}

// monitorsState is what JetStream holds of the monitors at one moment.
type monitorsState struct {
	records, schedules         uint64 // subjects: one per monitor in each
	recordBytes, scheduleBytes uint64
	pending                    uint64 // the commands consumer's pending and unacknowledged
}

func monitorsRead(ctx context.Context, js jetstream.JetStream) (monitorsState, error) {
	var s monitorsState
	kv, err := js.Stream(ctx, "KV_"+streams.BucketMonitors)
	if err != nil {
		return s, fmt.Errorf("KV_%s: %w", streams.BucketMonitors, err)
	}
	sc, err := js.Stream(ctx, streams.StreamSchedules)
	if err != nil {
		return s, fmt.Errorf("%s: %w", streams.StreamSchedules, err)
	}
	// A subject per schedule (aml.schedules.set.<key>) and per monitor's
	// fires: none fires during the run (monitorsFires checks it at the end).
	si, err := sc.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("%s: %w", streams.StreamSchedules, err)
	}
	s.schedules, s.scheduleBytes = si.State.NumSubjects, si.State.Bytes
	ki, err := kv.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("KV_%s: %w", streams.BucketMonitors, err)
	}
	s.records, s.recordBytes = ki.State.NumSubjects, ki.State.Bytes
	ci, err := js.Consumer(ctx, kybflow.StreamCommands, streams.ConsumerCommands)
	if err != nil {
		return s, fmt.Errorf("consumer %s: %w", streams.ConsumerCommands, err)
	}
	info, err := ci.Info(ctx)
	if err != nil {
		return s, fmt.Errorf("consumer %s: %w", streams.ConsumerCommands, err)
	}
	s.pending = info.NumPending + uint64(info.NumAckPending)
	return s, nil
}

// BenchmarkMonitorsAtRest creates MONITORS_N monitors that do not fire
// during the run and reports the storage and worker memory they take.
func BenchmarkMonitorsAtRest(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs nats-server, the sandbox, MinIO and a worker as processes")
	}
	if faultReportCached(b) {
		return
	}
	began := time.Now()
	n := scaleEnvInt(b, "MONITORS_N", monitorsDefaultN)
	e := newScaleEnv(b)
	worker, ops := e.startWorker("worker", "S3_BUCKET=kyb-results")
	pid := worker.pid()
	ctx := context.Background()
	before, err := monitorsRead(ctx, e.js)
	if err != nil {
		b.Fatal(err)
	}
	if before.records != 0 || before.schedules != 0 {
		b.Fatalf("before any monitor: %d records, %d schedules", before.records, before.schedules)
	}
	idle := scaleMemory(b, pid)

	ids := scaleIDs("mon", n)
	first, err := scalePublish(ctx, e.js, "aml.commands.monitor", ids, monitorsCreate)
	if err != nil {
		b.Fatalf("publish: %v", err)
	}
	published := time.Now()

	// Applied: a record and a schedule per monitor. The state (three info
	// requests) is read at most every 250 ms, so that the time to create
	// them all is known to that, and the reads weigh little on nats-server.
	var at monitorsState
	var applied, read time.Time
	last := errors.New("not read yet")
	testenv.Eventually(b, scaleStall+time.Duration(n/100)*time.Second, func() error {
		if time.Since(read) < 250*time.Millisecond {
			return last
		}
		read = time.Now()
		s, err := monitorsRead(ctx, e.js)
		if err != nil {
			last = err
			return err
		}
		at = s
		if s.records < uint64(n) || s.schedules < uint64(n) {
			last = fmt.Errorf("%d of %d records, %d schedules", s.records, n, s.schedules)
			return last
		}
		applied = time.Now()
		return nil
	})
	// Settled: the commands consumer has nothing left, so that the worker
	// holds no message in flight when its memory is read.
	testenv.Eventually(b, scaleStall, func() error {
		s, err := monitorsRead(ctx, e.js)
		if err != nil {
			return err
		}
		at = s
		if s.pending != 0 {
			return fmt.Errorf("%d commands pending or unacknowledged", s.pending)
		}
		return nil
	})
	mem := scaleMemory(b, pid)
	gor, heap, _ := scaleWorkerMetrics(ops)
	e.checkExits(b, worker)
	if at.records != uint64(n) || at.schedules != uint64(n) {
		b.Errorf("%d monitors created: %d records, %d schedules", n, at.records, at.schedules)
	}
	fires, err := monitorsFires(ctx, e.js)
	if err != nil {
		b.Error(err)
	} else if fires != 0 {
		b.Errorf("%d fires during the run: the schedules were to fire every %s", fires, monitorsEvery)
	}

	took := applied.Sub(first)
	b.Logf("%d monitor creates published in %s; all applied %s after the first publish (%.0f monitors/s); JetStream holds %.1f MB for KV_%s (%.0f bytes a monitor) and %.1f MB for the schedules in %s (%.0f bytes a monitor); worker RSS before any monitor %.1f MB, after %.1f MB (+%.1f MB, %.0f bytes a monitor), peak (VmHWM) %.1f MB; %s goroutines, %s MB heap in use",
		n, published.Sub(first).Round(time.Millisecond), took.Round(time.Millisecond), float64(n)/took.Seconds(),
		float64(at.recordBytes)/(1<<20), streams.BucketMonitors, float64(at.recordBytes)/float64(n),
		float64(at.scheduleBytes)/(1<<20), streams.StreamSchedules, float64(at.scheduleBytes)/float64(n),
		idle.rss, mem.rss, mem.rss-idle.rss, (mem.rss-idle.rss)*(1<<20)/float64(n), mem.hwm, gor, heap)
	faultReportMetrics(b, map[string]float64{
		"monitors":              float64(n),
		"create-s":              took.Seconds(),
		"monitors/s":            float64(n) / took.Seconds(),
		"kv-monitors-MB":        float64(at.recordBytes) / (1 << 20),
		"schedules-MB":          float64(at.scheduleBytes) / (1 << 20),
		"kv-B/monitor":          float64(at.recordBytes) / float64(n),
		"schedules-B/monitor":   float64(at.scheduleBytes) / float64(n),
		"rss-before-MB":         idle.rss,
		"rss-MB":                mem.rss,
		"rss-delta-MB":          mem.rss - idle.rss,
		"peak-rss-MB":           mem.hwm,
		"ns/op":                 float64(time.Since(began).Nanoseconds()),
		"publish-s":             published.Sub(first).Seconds(),
		"rss-delta-B/monitor":   (mem.rss - idle.rss) * (1 << 20) / float64(n),
		"commands-pending-left": float64(at.pending),
	})
}

// monitorsFires is how many fires AML_SCHEDULES holds.
func monitorsFires(ctx context.Context, js jetstream.JetStream) (uint64, error) {
	sc, err := js.Stream(ctx, streams.StreamSchedules)
	if err != nil {
		return 0, err
	}
	info, err := sc.Info(ctx, jetstream.WithSubjectFilter("aml.schedules.fire.>"))
	if err != nil {
		return 0, err
	}
	var fires uint64
	for _, c := range info.State.Subjects {
		fires += c
	}
	return fires, nil
}
