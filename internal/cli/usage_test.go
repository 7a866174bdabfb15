// Tests of help, usage errors and flags after arguments.

package cli

import (
	"context"
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := map[string]string{"NATS_URL": "nats://kyb:s3cret@127.0.0.1:4222", "S3_SECRET_KEY": "hush"}
	for _, c := range []struct {
		command string
		mention []string
	}{
		{"lookup", []string{"--type", "--beneficial-owners", "--country", "--identifier-type", "--expand", "--report", "--language",
			"--lookup-id", "--correlation-id", "--metadata", "--wait", "--timeout", "--json", "--no-validate",
			"NATS_URL", "--nats-url", "nats://127.0.0.1:4222", "AML_SUBJECT_PREFIX", "BLOB_DIR", "default 5m0s", "ownership.beneficials"}},
		{"events", []string{"--lookup", "--json", "--all", "--since", "--follow", "NATS_URL", "AML_SUBJECT_PREFIX", "default true"}},
		{"get", []string{"--dir", "NATS_URL", "AML_SUBJECT_PREFIX", "BLOB_DIR", "S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY",
			"S3_REGION", "S3_SECURE", "S3_BUCKET", "BLOB_KEY_PREFIX", "0600"}},
		{"deadletters", []string{"list", "show SEQ", "replay SEQ...|--all", "purge [SEQ...] --yes", "DEADLETTER_MAX_AGE"}},
		{"erase", []string{"--force", "NATS_URL", "BLOB_DIR", "S3_ENDPOINT", "S3_BUCKET", "BLOB_KEY_PREFIX", "EVENT_SOURCE",
			"LOOKUP_RETENTION", "tombstone", "erased event", "versioning"}},
		{"monitors", []string{"create [flags] MONITOR_ID IDENTIFIER", "update", "pause MONITOR_ID", "resume", "delete", "--every", "--cron",
			"changed event", "<prefix>.commands.monitor", "Exit status", "list", "show MONITOR_ID", "--erase-history", "sessions each costs"}},
	} {
		r := amlctl(ctx, env, c.command, "--help")
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%s --help: want exit 0, nothing on stderr:\n%s", c.command, r)
		}
		for _, m := range c.mention {
			if !strings.Contains(r.stdout, m) {
				t.Errorf("%s --help does not mention %s", c.command, m)
			}
		}
		if strings.Contains(r.stdout, "s3cret") || strings.Contains(r.stdout, "hush") {
			t.Errorf("%s --help shows a secret from the environment", c.command)
		}
		if h := amlctl(ctx, env, "help", c.command); h.code != 0 || h.stdout != r.stdout {
			t.Errorf("help %s differs from %s --help:\n%s", c.command, c.command, h)
		}
	}
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		r := amlctl(ctx, env, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "amlctl lookup") || !strings.Contains(r.stdout, "NATS_URL") ||
			!strings.Contains(r.stdout, "amlctl deadletters") || !strings.Contains(r.stdout, "amlctl erase") {
			t.Errorf("%v: want exit 0 and the overview:\n%s", args, r)
		}
	}
	// The subcommands of monitors.
	for _, c := range []struct {
		command string
		mention []string
	}{
		{"create", []string{"--every", "--cron", "--time-zone", "--until", "--type", "--beneficial-owners", "--country", "--identifier-type",
			"--expand", "--report", "--language", "--correlation-id", "--metadata", "--command-id", "--wait", "--timeout", "--json",
			"NATS_URL", "AML_SUBJECT_PREFIX", "AML_TENANT", "Nats-Msg-Id", "DUPLICATE_WINDOW", "ownership.beneficials", "default 1m0s"}},
		{"update", []string{"--every", "--cron", "--until", "--expand", "[IDENTIFIER]", "replaced whole"}},
		{"pause", []string{"--correlation-id", "--wait", "--command-id", "NATS_URL"}},
		{"resume", []string{"--wait"}},
		{"delete", []string{"--wait", "amlctl erase", "--erase-history", "MONITOR_ID-r<digits>", "BLOB_DIR", "S3_BUCKET", "BLOB_KEY_PREFIX", "EVENT_SOURCE"}},
		{"list", []string{"--json", "SESSIONS/30D", "sessionsPerMonth", "nextRun", "Nats-Schedule-Next", "AML_TENANT", "NATS_URL"}},
		{"show", []string{"--json", "recent", "correlationId", "AML_TENANT", "30 days"}},
	} {
		r := amlctl(ctx, env, "monitors", c.command, "--help")
		if r.code != 0 || r.stderr != "" {
			t.Errorf("monitors %s --help: want exit 0, nothing on stderr:\n%s", c.command, r)
		}
		for _, m := range c.mention {
			if !strings.Contains(r.stdout, m) {
				t.Errorf("monitors %s --help does not mention %s", c.command, m)
			}
		}
		if c.command != "create" && c.command != "update" && strings.Contains(r.stdout, "--every") {
			t.Errorf("monitors %s --help offers --every", c.command)
		}
	}
	// The subcommands of deadletters.
	for _, c := range []struct {
		command string
		mention []string
	}{
		{"list", []string{"--json", "seq", "truncated", "sha256", "NATS_URL"}},
		{"show", []string{"--body", "truncated", "--data"}},
		{"replay", []string{"--all", "--edit", "--data", "VISUAL", "EDITOR", "replay-<stream>-<SEQ>", "DUPLICATE_WINDOW", "truncated", "unchanged"}},
		{"purge", []string{"--yes", "without --yes", "secure"}},
	} {
		r := amlctl(ctx, env, "deadletters", c.command, "--help")
		if r.code != 0 || r.stderr != "" {
			t.Errorf("deadletters %s --help: want exit 0, nothing on stderr:\n%s", c.command, r)
		}
		for _, m := range c.mention {
			if !strings.Contains(r.stdout, m) {
				t.Errorf("deadletters %s --help does not mention %s", c.command, m)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		{"help", "frobnicate"},
		{"lookup"},
		{"lookup", "923609016", "988077917"},
		{"lookup", "--bogus", "923609016"},
		{"lookup", "--timeout", "soon", "923609016"},
		{"lookup", "--metadata", "{not json", "923609016"},
		{"lookup", "--type", "organization", "--beneficial-owners", "923609016"},
		{"lookup", "--wait", "--no-validate", "--lookup-id", "a.b", "923609016"},
		{"events", "--all", "--since", "1h"},
		{"events", "--lookup", "no/such"},
		{"events", "extra"},
		{"get"},
		{"get", "a.b.c"},
		{"deadletters"},
		{"deadletters", "frobnicate"},
		{"deadletters", "list", "extra"},
		{"deadletters", "show"},
		{"deadletters", "show", "1", "2"},
		{"deadletters", "show", "first"},
		{"deadletters", "replay"},
		{"deadletters", "replay", "--all", "1"},
		{"deadletters", "replay", "--edit", "--data", "f.json", "1"},
		{"deadletters", "replay", "--data", "f.json", "1", "2"},
		{"deadletters", "replay", "--edit", "1"}, // no VISUAL or EDITOR
		{"deadletters", "purge", "0"},
		{"erase"},
		{"erase", "a.b.c"},
		{"erase", "--blob-key-prefix", "../up", "x"},
		{"erase", "--event-source", "not a uri", "x"},
		{"erase", "--s3-endpoint", "127.0.0.1:9000", "--s3-access-key", "k", "--s3-secret-key", "s", "x"}, // no S3_BUCKET
		{"monitors"},
		{"monitors", "frobnicate"},
		{"monitors", "list", "extra"},
		{"monitors", "list", "--tenant", "a.b"},
		{"monitors", "show"},
		{"monitors", "show", "m-1", "m-2"},
		{"monitors", "show", "a.b.c"},
		{"monitors", "delete", "--erase-history", "--json", "m-1"},
		{"monitors", "delete", "--erase-history", "--blob-dir", "/tmp", "--event-source", "not a uri", "m-1"},
		{"monitors", "pause", "--erase-history", "m-1"},
		{"monitors", "create", "m-1"},
		{"monitors", "create", "--every", "24h", "m-1"},
		{"monitors", "create", "m-1", "923609016"}, // no schedule
		{"monitors", "create", "--every", "24h", "--cron", "0 0 6 * * *", "m-1", "923609016"},
		{"monitors", "create", "--every", "24h", "--time-zone", "Europe/Oslo", "m-1", "923609016"},
		{"monitors", "create", "--every", "24h", "--until", "next year", "m-1", "923609016"},
		{"monitors", "create", "--every", "24h", "--metadata", "{not json", "m-1", "923609016"},
		{"monitors", "create", "--every", "24h", "--type", "organization", "--beneficial-owners", "m-1", "923609016"},
		{"monitors", "create", "--every", "24h", "--wait", "--timeout", "0s", "m-1", "923609016"},
		{"monitors", "create", "--every", "24h", "--command-id", "a.b", "m-1", "923609016"},
		{"monitors", "update", "m-1"},                    // changes nothing
		{"monitors", "update", "--country", "SE", "m-1"}, // a lookup flag without the IDENTIFIER
		{"monitors", "pause"},
		{"monitors", "pause", "m-1", "923609016"},
		{"monitors", "pause", "--every", "24h", "m-1"},
		{"monitors", "delete", "--bogus", "m-1"},
	} {
		r := amlctl(context.Background(), map[string]string{}, args...)
		if r.code != 2 || r.stdout != "" {
			t.Errorf("%v: want exit 2 and nothing on stdout:\n%s", args, r)
		}
		if len(args) > 0 && strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: want a one-line hint:\n%s", args, r)
		}
	}
	// A bad variable is named.
	r := amlctl(context.Background(), map[string]string{"AML_SUBJECT_PREFIX": "a b"}, "events")
	if r.code != 2 || !strings.Contains(r.stderr, "AML_SUBJECT_PREFIX") {
		t.Errorf("bad prefix: want exit 2 naming the variable:\n%s", r)
	}
	r = amlctl(context.Background(), map[string]string{"S3_SECURE": "maybe"}, "get", "x")
	if r.code != 2 || !strings.Contains(r.stderr, "S3_SECURE") {
		t.Errorf("bad S3_SECURE: want exit 2 naming the variable:\n%s", r)
	}
}

func TestFlagsAfterArguments(t *testing.T) {
	t.Parallel()
	// Validation fails before any connection, so no NATS is needed.
	r := amlctl(context.Background(), map[string]string{}, "lookup", "923609017", "--country", "NO", "--wait")
	if r.code != 1 || !strings.Contains(r.stderr, `"923609017": check digit is 7, want 6`) {
		t.Errorf("flags after the identifier:\n%s", r)
	}
	r = amlctl(context.Background(), map[string]string{}, "lookup", "--country", "SE", "--", "923609017")
	if r.code != 1 || !strings.Contains(r.stderr, "Swedish") {
		t.Errorf("-- before the identifier:\n%s", r)
	}
}
