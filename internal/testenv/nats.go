package testenv

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow/internal/natsembed"
)

// NATS starts a real NATS server with JetStream (file storage in a temporary
// directory) inside the test process, and stops it when the test ends. It
// returns the client URL.
func NATS(t testing.TB) string {
	t.Helper()
	srv, err := natsembed.Start(natsembed.Config{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("testenv: start NATS: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

// JetStream starts a NATS server (see NATS) and returns a JetStream
// context on a connection that is closed when the test ends.
func JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	return JetStreamOn(t, NATS(t))
}

// JetStreamOn is a JetStream context on a connection to the server at url,
// closed when the test ends.
func JetStreamOn(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("testenv: connect NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("testenv: jetstream: %v", err)
	}
	return js
}

// NATSWithUsers starts a NATS server with JetStream (file storage in a
// temporary directory) whose clients must log in as one of users, each with
// its permissions, inside the test process, and stops it when the test
// ends. It returns the server, for its ClientURL and its logger.
func NATSWithUsers(t testing.TB, users ...*server.User) *server.Server {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoSigs: true, NoLog: true,
		JetStream: true, StoreDir: t.TempDir(), Users: users})
	if err != nil {
		t.Fatalf("testenv: NATS with users: %v", err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("testenv: NATS with users: not ready within 10s")
	}
	return srv
}
