package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/testenv"
)

// The scale benchmark's Watermill peer (bench/watermill-peer): the pipeline a user
// would write instead, run as a process.
//
// ---- the Watermill peer ----

// scaleRow is a phase's line in the table.
type scaleRow struct {
	name string
	took time.Duration
	rate float64
	cpu  scaleCPU
}

// scaleWatermillReady is the line the Watermill peer prints once its
// subscriptions are up.
const scaleWatermillReady = "watermill-peer: ready"

// runWatermillPeer runs bench/watermill-peer (built once, a module of its
// own) against streams (WM_COMMANDS, WM_EVENTS) and a bucket of its own,
// publishes n commands (ids with prefix) and waits for n completed events.
// Its CPU is the row's "worker". It reports false, and the phase is
// skipped, if the peer does not build (its modules cannot be downloaded,
// say) or does not start.
func (e *scaleEnv) runWatermillPeer(prefix string, n int) (scaleRow, bool) {
	b := e.bench
	ctx := context.Background()
	bin, ok := e.buildWatermillPeer()
	if !ok {
		return scaleRow{}, false
	}
	if err := e.mc.MakeBucket(ctx, "watermill", minio.MakeBucketOptions{}); err != nil {
		b.Fatal(err)
	}
	for name, subjects := range map[string]string{"WM_COMMANDS": "wm.commands.>", "WM_EVENTS": "wm.events.>"} {
		if _, err := e.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{subjects},
			Storage: jetstream.FileStorage, Duplicates: 2 * time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	// The peer's push consumer goes with its subscription when the peer
	// stops, and comes back delivering all the stream has: the commands of
	// earlier rounds go first.
	if err := scalePurge(ctx, e.js, "WM_COMMANDS"); err != nil {
		b.Fatal(err)
	}
	api := "http://" + e.sandboxAddr
	p := newFproc("watermill-peer", bin, []string{
		"NATS_URL=" + e.natsURL, "COMMAND_SUBJECT=wm.commands.lookup", "EVENT_PREFIX=wm.events", "DURABLE=watermill-peer",
		"AML_API_URL=" + api, "AML_TOKEN_URL=" + api + "/auth/realms/sandbox/protocol/openid-connect/token",
		"AML_CLIENT_ID=sandbox", "AML_CLIENT_SECRET=sandbox-secret",
		"S3_ENDPOINT=" + e.s3.Endpoint, "S3_ACCESS_KEY=" + e.s3.AccessKey, "S3_SECRET_KEY=" + e.s3.SecretKey,
		"S3_REGION=" + e.s3.Region, "S3_BUCKET=watermill",
		fmt.Sprintf("CONCURRENCY=%d", scaleConcurrency), "POLL_INITIAL=" + scalePollInitial.String(), "POLL_MAX=" + scalePollMax.String(),
	})
	faultCleanup(b, func() []*fproc { return []*fproc{p} })
	if err := p.start(); err != nil {
		b.Errorf("the Watermill peer phase is skipped: %v", err)
		return scaleRow{}, false
	}
	var exits []string
	err := testenv.Poll(time.Minute, func() error {
		if exits = p.unexpectedExits(); len(exits) == 0 && !strings.Contains(p.out.String(), scaleWatermillReady) {
			return errors.New("not ready within a minute")
		}
		return nil
	})
	if err == nil && len(exits) > 0 {
		err = errors.New(strings.Join(exits, "; "))
	}
	if err != nil {
		b.Errorf("the Watermill peer phase is skipped: the peer did not start: %v\n%s", err, p.out.String())
		p.stop(10 * time.Second)
		return scaleRow{}, false
	}
	watch := e.watcher("WM_EVENTS", scaleTerminalEvents("wm.events")...)
	ids := scaleIDs(prefix, n)
	cpu := append(e.cpuProcs(nil), scaleProc{"worker", p.pid()})
	before := scaleSampleCPU(b, cpu)
	first, err := scalePublish(ctx, e.js, "wm.commands.lookup", ids, scaleCommand)
	if err != nil {
		b.Fatalf("publish to the Watermill peer: %v", err)
	}
	last := watch.waitTerminal(b, ids, append(e.procs(nil), p))
	used := scaleSampleCPU(b, cpu).minus(before)
	scaleSettleWindow()
	watch.checkEnded(b, ids, "completed")
	e.checkExits(b, nil)
	for _, x := range p.unexpectedExits() {
		b.Error(x)
	}
	p.stop(30 * time.Second)
	took := last.Sub(first)
	return scaleRow{"watermill peer", took, float64(n) / took.Seconds(), used}, true
}

// buildWatermillPeer builds bench/watermill-peer, once; false (logged at
// the first try) if it does not build.
func (e *scaleEnv) buildWatermillPeer() (string, bool) {
	b := e.bench
	if e.wmBin == "" && e.wmErr == nil {
		bin := filepath.Join(b.TempDir(), "watermill-peer")
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = filepath.Join("..", "bench", "watermill-peer")
		build.Env = append(os.Environ(), "GOWORK=off")
		if out, err := build.CombinedOutput(); err != nil {
			e.wmErr = err
			b.Logf("the Watermill peer phase is skipped: go build in bench/watermill-peer: %v\n%s", err, out)
		} else {
			e.wmBin = bin
		}
	}
	return e.wmBin, e.wmErr == nil
}

func scalePurge(ctx context.Context, js jetstream.JetStream, stream string) error {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	return st.Purge(ctx)
}
