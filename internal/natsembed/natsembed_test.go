package natsembed

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStartServesJetStreamAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	publish := func() uint64 {
		srv, err := Start(Config{StoreDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Shutdown()
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Storage: jetstream.FileStorage}); err != nil {
			t.Fatal(err)
		}
		ack, err := js.Publish(ctx, "t.x", []byte("hello"))
		if err != nil {
			t.Fatal(err)
		}
		return ack.Sequence
	}
	if seq := publish(); seq != 1 {
		t.Fatalf("first sequence = %d, want 1", seq)
	}
	// A restart on the same directory keeps the stream: file storage, as in production.
	if seq := publish(); seq != 2 {
		t.Fatalf("sequence after restart = %d, want 2 (data not kept)", seq)
	}
}

func TestStartRequiresStoreDir(t *testing.T) {
	if _, err := Start(Config{}); err == nil {
		t.Fatal("Start without StoreDir succeeded")
	}
}
