// Tests of amlctl erase against a running worker, with its results in a directory and in S3.

package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/streams"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestEraseAgainstPipeline erases a lookup the worker did, and checks what
// the worker and amlctl make of the lookupId afterwards.
func TestEraseAgainstPipeline(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, false)
	ctx := context.Background()
	env := p.with("EVENT_SOURCE", "urn:test")
	var s kybflow.Subjects
	r := amlctl(ctx, env, "lookup", "--wait", "--timeout", "30s", "--lookup-id", "p-er", "--correlation-id", "case-77",
		"--country", "SE", "--report", "aml,certificate_of_incorporation", "556036-0793")
	if r.code != 0 {
		t.Fatalf("lookup:\n%s", r)
	}
	r = amlctl(ctx, env, "erase", "p-er")
	if r.code != 0 || !strings.Contains(r.stdout, "3 objects deleted") || !strings.Contains(r.stdout, "3 events deleted") {
		t.Fatalf("erase: want the 3 objects and the 3 events deleted:\n%s", r)
	}
	entries, _ := os.ReadDir(filepath.Join(p.blobDir, "lookups", "p-er"))
	if len(entries) != 0 {
		t.Errorf("files left: %v", entries)
	}
	r = amlctl(ctx, env, "events", "--lookup", "p-er", "--json", "--follow=false")
	ev, err := kybflow.DecodeEvent([]byte(r.stdout))
	if err != nil || ev.Kind() != kybflow.KindErased || strings.Contains(r.stdout, "case-77") {
		t.Fatalf("want the erased event alone, without the correlationId: %v\n%s", err, r)
	}
	if r := amlctl(ctx, env, "get", "--dir", t.TempDir(), "p-er"); r.code != 1 || !strings.Contains(r.stderr, "lookup p-er was erased at ") {
		t.Errorf("get: want exit 1, erased:\n%s", r)
	}
	// Waiting on the lookup again ends at its erased event.
	r = amlctl(ctx, env, "lookup", "--wait", "--timeout", "30s", "--lookup-id", "p-er", "--country", "SE", "5560360793")
	if r.code != 1 || !strings.Contains(r.stderr, "lookup p-er was erased") {
		t.Errorf("lookup --wait of an erased lookup: want exit 1, erased:\n%s", r)
	}

	// The command again, past the stream's deduplication: the tombstone
	// keeps the worker from opening anything.
	js := jetStreamOf(t, p.natsURL)
	ack, err := js.Publish(ctx, s.CommandLookup(), []byte(`{"lookupId":"p-er","type":"organization","identifier":"923609016"}`), jetstream.WithMsgID("p-er-again"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, func() error {
		c, err := js.Consumer(ctx, s.CommandsStream(), streams.ConsumerCommands)
		if err != nil {
			return err
		}
		info, err := c.Info(ctx)
		if err != nil {
			return err
		}
		if info.AckFloor.Stream < ack.Sequence {
			return fmt.Errorf("the worker has not handled command %d yet (ack floor %d)", ack.Sequence, info.AckFloor.Stream)
		}
		return nil
	})
	r = amlctl(ctx, env, "events", "--lookup", "p-er", "--follow=false")
	if strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, "p-er  erased") {
		t.Errorf("the worker published for an erased lookup:\n%s", r)
	}
	r = amlctl(ctx, env, "erase", "p-er")
	if r.code != 0 || !strings.Contains(r.stdout, "erased already") || !strings.Contains(r.stdout, "nothing found to remove now") {
		t.Errorf("erase again:\n%s", r)
	}
}

// TestEraseFromS3 erases what the worker stored in a real MinIO.
func TestEraseFromS3(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, true)
	ctx := context.Background()
	r := amlctl(ctx, p.env, "lookup", "--wait", "--timeout", "30s", "--lookup-id", "s3-er", "--report", "aml", "923609016")
	if r.code != 0 {
		t.Fatalf("lookup:\n%s", r)
	}
	if r := amlctl(ctx, p.env, "erase", "s3-er"); r.code != 2 || !strings.Contains(r.stderr, "S3_BUCKET is required with S3_ENDPOINT") {
		t.Fatalf("without S3_BUCKET: want exit 2 naming it:\n%s", r)
	}
	env := p.with("S3_BUCKET", "results", "EVENT_SOURCE", "urn:test")
	r = amlctl(ctx, env, "erase", "s3-er")
	if r.code != 0 || !strings.Contains(r.stdout, "2 objects deleted: results/lookups/s3-er/json.json, results/lookups/s3-er/report-aml.pdf") {
		t.Fatalf("erase: want both objects deleted:\n%s", r)
	}
	mc, err := minio.New(p.s3.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(p.s3.AccessKey, p.s3.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	for obj := range mc.ListObjects(ctx, "results", minio.ListObjectsOptions{Prefix: "lookups/s3-er/", Recursive: true}) {
		t.Errorf("object left: %s %v", obj.Key, obj.Err)
	}
	r = amlctl(ctx, env, "erase", "s3-er")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing found to remove now") {
		t.Errorf("erase again:\n%s", r)
	}
	// Wrong credentials: the error names the bucket, not the secret.
	r = amlctl(ctx, p.with("S3_BUCKET", "results", "S3_SECRET_KEY", "wrong"), "erase", "s3-other")
	if r.code != 1 || !strings.Contains(r.stderr, "bucket results") || strings.Contains(r.stderr, "wrong") {
		t.Errorf("erase with a wrong secret: want exit 1 naming the bucket, not the secret:\n%s", r)
	}
}
