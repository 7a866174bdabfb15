package testenv

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// passwordVar is a password variable of the shipped users file:
// $KYBFLOW_<ROLE>_PASSWORD.
var passwordVar = regexp.MustCompile(`\$KYBFLOW_([A-Z_]+)_PASSWORD`)

// ShippedUsers reads the users file at path (deploy/nats/kybflow-users.conf)
// as nats-server does, included in a server's authorization block, with
// each $KYBFLOW_<ROLE>_PASSWORD replaced by "pw-<ROLE>" in the text rather
// than set in the environment, so that tests using it may run in parallel.
func ShippedUsers(t testing.TB, path string) []*server.User {
	t.Helper()
	b, err := os.ReadFile(path) //nolint:gosec // G304: a test names the repository's own file
	if err != nil {
		t.Fatal(err)
	}
	users := passwordVar.ReplaceAllString(string(b), `"pw-$1"`)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kybflow-users.conf"), []byte(users), 0o600); err != nil { //nolint:gosec // G703: a file of the test's temporary directory
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(conf, []byte("authorization {\n  include ./kybflow-users.conf\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("nats-server cannot read the users file %s: %v", path, err)
	}
	return opts.Users
}
