package testenv

import (
	"testing"

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
