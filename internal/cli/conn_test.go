// Tests of what every subcommand says when NATS is unreachable or its streams are missing.

package cli

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/kybflow/kybflow/internal/testenv"
)

func TestNATSUnreachable(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	for _, args := range [][]string{{"lookup", "923609016"}, {"events", "--all"}, {"get", "some-lookup"},
		{"deadletters", "list"}, {"deadletters", "replay", "--all"}, {"erase", "some-lookup"}} {
		r := amlctl(context.Background(), map[string]string{"NATS_URL": "nats://kyb:s3cret@" + addr, "BLOB_DIR": t.TempDir()}, args...)
		want := fmt.Sprintf("cannot reach NATS at nats://redacted@%s (set NATS_URL and the NATS_* credentials): ", addr)
		if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "s3cret") {
			t.Errorf("%v: want exit 1 and %q, password hidden:\n%s", args, want, r)
		}
	}
}

func TestStreamsMissing(t *testing.T) {
	t.Parallel()
	env := map[string]string{"NATS_URL": testenv.NATS(t), "BLOB_DIR": t.TempDir()}
	for _, c := range []struct {
		args   []string
		stream string
	}{
		{[]string{"lookup", "923609016"}, "AML_COMMANDS"},
		{[]string{"lookup", "--wait", "923609016"}, "AML_COMMANDS"},
		{[]string{"events", "--all"}, "AML_EVENTS"},
		{[]string{"get", "some-lookup"}, "AML_EVENTS"},
		{[]string{"deadletters", "list"}, "AML_DEADLETTER"},
		{[]string{"deadletters", "purge", "--yes"}, "AML_DEADLETTER"},
		{[]string{"erase", "some-lookup"}, "AML_LOOKUPS"},
	} {
		r := amlctl(context.Background(), env, c.args...)
		want := "stream " + c.stream + " not found: the worker has not started (it creates the streams at start)"
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("%v: want exit 1 and %q:\n%s", c.args, want, r)
		}
	}
	// With another prefix, the message says the prefix may be wrong.
	env["AML_SUBJECT_PREFIX"] = "acme.aml"
	r := amlctl(context.Background(), env, "lookup", "923609016")
	if !strings.Contains(r.stderr, "stream ACME_AML_COMMANDS not found") || !strings.Contains(r.stderr, `AML_SUBJECT_PREFIX "acme.aml"`) {
		t.Errorf("want the prefixed stream and a word on the prefix:\n%s", r)
	}
}
