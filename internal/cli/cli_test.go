package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/envconfig"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestAgainstPipeline runs amlctl against one running system: first the
// lookups, in parallel, then what reads their events and results.
func TestAgainstPipeline(t *testing.T) {
	p := startPipeline(t, false)
	ctx := context.Background()

	t.Run("lookups", func(t *testing.T) {
		for _, c := range []struct {
			name      string
			args      []string
			artifacts []string
		}{
			{"NO", []string{"--lookup-id", "t-no", "--report", "aml", "--expand", "roles,ownership", "--expand", "sanction",
				"--correlation-id", "case-77", "--metadata", `{"customer":"c-991"}`, "923 609 016"},
				[]string{"json", "report:aml"}},
			{"SE", []string{"--lookup-id", "t-se", "--country", "SE", "556036-0793", "--report", "aml,certificate_of_incorporation"},
				[]string{"json", "report:aml", "report:certificate_of_incorporation"}},
			{"FI", []string{"--lookup-id", "t-fi", "--country", "FI", "--expand", "address", "2077474-0"},
				[]string{"json"}},
			{"beneficial owners", []string{"--lookup-id", "t-bo", "--beneficial-owners", "--expand", "citizenship", "--report", "aml", "974760673"},
				[]string{"json", "report:aml"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				r := amlctl(ctx, p.env, append([]string{"lookup", "--wait", "--timeout", "30s"}, c.args...)...)
				if r.code != 0 {
					t.Fatalf("want exit 0:\n%s", r)
				}
				for _, want := range []string{"accepted", "session opened", "completed"} {
					if !strings.Contains(r.stdout, want) {
						t.Errorf("progress does not show %q:\n%s", want, r)
					}
				}
				for _, name := range c.artifacts {
					line := lineWith(r.stdout, name+" ")
					if line == "" {
						t.Errorf("artifact %s not listed:\n%s", name, r)
						continue
					}
					// The local path is printed, and is the artifact.
					path := filepath.Join(p.blobDir, "lookups")
					if !strings.Contains(line, path) {
						t.Errorf("artifact line %q: no path under BLOB_DIR %s", line, path)
					}
				}
				if !strings.Contains(r.stdout, "amlctl get ") {
					t.Errorf("no hint how to download:\n%s", r)
				}
			})
		}

		t.Run("bad check digit fails at once", func(t *testing.T) {
			t.Parallel()
			r := amlctl(ctx, p.env, "lookup", "--wait", "--lookup-id", "t-bad", "923609017")
			if r.code != 1 {
				t.Fatalf("want exit 1:\n%s", r)
			}
			want := `invalid Norwegian organization number "923609017": check digit is 7, want 6`
			if !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("want one line naming the identifier, %q:\n%s", want, r)
			}
			if strings.Contains(r.stdout, "submitted") {
				t.Errorf("an invalid command was sent:\n%s", r)
			}
		})

		t.Run("no-validate lets the worker fail it", func(t *testing.T) {
			t.Parallel()
			r := amlctl(ctx, p.env, "lookup", "--wait", "--no-validate", "--lookup-id", "t-novalidate", "923609017")
			if r.code != 1 {
				t.Fatalf("want exit 1:\n%s", r)
			}
			if !strings.Contains(r.stdout, "failed") || !strings.Contains(r.stdout, string(kybflow.CodeInvalidIdentifier)) ||
				!strings.Contains(r.stdout, "923609017") || !strings.Contains(r.stdout, "not retryable") {
				t.Errorf("want the failed event with code, reason and retryable:\n%s", r)
			}
		})

		t.Run("json prints only the final event", func(t *testing.T) {
			t.Parallel()
			r := amlctl(ctx, p.env, "lookup", "--wait", "--json", "--lookup-id", "t-json", "--country", "SE", "5560360793")
			if r.code != 0 {
				t.Fatalf("want exit 0:\n%s", r)
			}
			ev, err := kybflow.DecodeEvent([]byte(r.stdout))
			if err != nil {
				t.Fatalf("stdout is not one CloudEvent: %v\n%s", err, r)
			}
			if ev.Type != kybflow.KindCompleted.EventType() || ev.Subject != "t-json" || ev.SpecVersion != "1.0" {
				t.Errorf("final event %s %s %s, want a completed event of t-json", ev.SpecVersion, ev.Type, ev.Subject)
			}
		})

		t.Run("the same lookup-id twice is already submitted", func(t *testing.T) {
			t.Parallel()
			first := amlctl(ctx, p.env, "lookup", "--lookup-id", "t-twice", "988077917")
			if first.code != 0 || strings.TrimSpace(first.stdout) != "t-twice" || strings.Contains(first.stderr, "already") {
				t.Fatalf("first: want exit 0 and the lookupId:\n%s", first)
			}
			if !strings.Contains(first.stderr, "amlctl events --lookup t-twice") {
				t.Errorf("first: no hint how to follow it:\n%s", first)
			}
			again := amlctl(ctx, p.env, "lookup", "--lookup-id", "t-twice", "988077917")
			if again.code != 0 || !strings.Contains(again.stderr, "already submitted") {
				t.Fatalf("again: want exit 0 and already submitted:\n%s", again)
			}
			// Waiting on the duplicate follows the original lookup.
			wait := amlctl(ctx, p.env, "lookup", "--wait", "--lookup-id", "t-twice", "988077917")
			if wait.code != 0 || !strings.Contains(wait.stdout, "already submitted") || !strings.Contains(wait.stdout, "completed") {
				t.Fatalf("wait: want exit 0, already submitted, completed:\n%s", wait)
			}
		})

		t.Run("timeout", func(t *testing.T) {
			t.Parallel()
			// The sandbox takes 150ms to have results.
			r := amlctl(ctx, p.env, "lookup", "--wait", "--timeout", "100ms", "--lookup-id", "t-timeout", "923609016")
			if r.code != 2 || !strings.Contains(r.stderr, "within 100ms") || !strings.Contains(r.stderr, "amlctl events --lookup t-timeout") {
				t.Fatalf("want exit 2, the timeout and how to follow:\n%s", r)
			}
		})

		t.Run("interrupted", func(t *testing.T) {
			t.Parallel()
			ictx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			r := amlctl(ictx, p.env, "lookup", "--wait", "--lookup-id", "t-interrupted", "923609016")
			if r.code != 2 || !strings.Contains(r.stderr, "interrupted") {
				t.Fatalf("want exit 2, interrupted:\n%s", r)
			}
		})

		t.Run("events follow until interrupted", func(t *testing.T) {
			t.Parallel()
			fctx, cancel := context.WithCancel(ctx)
			defer cancel()
			out, errOut := &testenv.Buffer{}, &testenv.Buffer{}
			done := make(chan int, 1)
			go func() {
				done <- Main(fctx, []string{"events", "--lookup", "t-follow", "--all"}, envconfig.MapLookup(p.env), out, errOut)
			}()
			if r := amlctl(ctx, p.env, "lookup", "--lookup-id", "t-follow", "--country", "FI", "2077474-0"); r.code != 0 {
				t.Fatalf("lookup:\n%s", r)
			}
			_ = testenv.Poll(20*time.Second, func() error { // without it, the check below fails
				if !strings.Contains(out.String(), "completed") {
					return errors.New("no completed event followed yet")
				}
				return nil
			})
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("events exit %d, want 0 on interruption; stderr: %s", code, errOut)
			}
			got := out.String()
			for _, kind := range []string{"accepted", "session_opened", "completed"} {
				if !strings.Contains(got, "t-follow  "+kind) {
					t.Errorf("events output lacks %s of t-follow:\n%s", kind, got)
				}
			}
		})
	})

	t.Run("events --all --follow=false lists them", func(t *testing.T) {
		r := amlctl(ctx, p.env, "events", "--all", "--follow=false")
		if r.code != 0 {
			t.Fatalf("want exit 0:\n%s", r)
		}
		for _, line := range []string{"t-no  accepted", "t-no  session_opened", "t-no  completed", "t-se  completed", "t-fi  completed",
			"t-bo  completed", "t-novalidate  failed", "t-json  completed", "t-twice  completed"} {
			if !strings.Contains(r.stdout, line) {
				t.Errorf("no line with %q:\n%s", line, r)
			}
		}
		if !strings.Contains(lineWith(r.stdout, "t-no  accepted"), "organization NO 923609016") ||
			!strings.Contains(lineWith(r.stdout, "t-no  completed"), "2 artifacts") ||
			!strings.Contains(lineWith(r.stdout, "t-novalidate  failed"), "invalid_identifier") {
			t.Errorf("summaries missing:\n%s", r)
		}
		if strings.Contains(r.stdout, "t-bad") {
			t.Errorf("the invalid command was published:\n%s", r)
		}
	})

	t.Run("events of one lookup as JSON lines", func(t *testing.T) {
		r := amlctl(ctx, p.env, "events", "--lookup", "t-no", "--json", "--follow=false")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 3 {
			t.Fatalf("want exit 0 and 3 events:\n%s", r)
		}
		for i, kind := range []kybflow.Kind{kybflow.KindAccepted, kybflow.KindSessionOpened, kybflow.KindCompleted} {
			ev, err := kybflow.DecodeEvent([]byte(lines[i]))
			if err != nil || ev.Kind() != kind || ev.Subject != "t-no" {
				t.Errorf("line %d: %v %s %s, want %s of t-no", i, err, ev.Type, ev.Subject, kind)
			}
		}
		if !strings.Contains(lines[0], `"metadata":{"customer":"c-991"}`) || !strings.Contains(lines[0], `"correlationId":"case-77"`) {
			t.Errorf("correlationId and metadata not sent: %s", lines[0])
		}
	})

	t.Run("events --since", func(t *testing.T) {
		r := amlctl(ctx, p.env, "events", "--since", "1h", "--follow=false", "--lookup", "t-fi")
		if r.code != 0 || strings.Count(r.stdout, "t-fi") != 3 {
			t.Fatalf("want the 3 events of t-fi:\n%s", r)
		}
		r = amlctl(ctx, p.env, "events", "--since", "1ns", "--follow=false", "--lookup", "t-fi")
		if r.code != 0 || r.stdout != "" {
			t.Fatalf("want no events of t-fi in the last nanosecond:\n%s", r)
		}
	})

	t.Run("get downloads and checks the artifacts", func(t *testing.T) {
		dir := t.TempDir()
		r := amlctl(ctx, p.env, "get", "--dir", dir, "t-se")
		if r.code != 0 {
			t.Fatalf("want exit 0:\n%s", r)
		}
		checkDownloaded(t, ctx, p, r, dir, "t-se", "json.json", "report-aml.pdf", "report-certificate_of_incorporation.pdf")
	})

	t.Run("get of a failed lookup", func(t *testing.T) {
		r := amlctl(ctx, p.env, "get", "--dir", t.TempDir(), "t-novalidate")
		if r.code != 1 || !strings.Contains(r.stderr, "t-novalidate failed") || !strings.Contains(r.stderr, "invalid_identifier") {
			t.Fatalf("want exit 1 and the failure:\n%s", r)
		}
	})

	t.Run("get of no such lookup", func(t *testing.T) {
		r := amlctl(ctx, p.env, "get", "--dir", t.TempDir(), "never-seen")
		if r.code != 1 || !strings.Contains(r.stderr, "no lookup never-seen") {
			t.Fatalf("want exit 1 and no lookup:\n%s", r)
		}
	})

	t.Run("get without storage names the variables", func(t *testing.T) {
		r := amlctl(ctx, map[string]string{"NATS_URL": p.natsURL}, "get", "--dir", t.TempDir(), "t-fi")
		if r.code != 1 || !strings.Contains(r.stderr, "BLOB_DIR") || !strings.Contains(r.stderr, "S3_ENDPOINT") || !strings.Contains(r.stderr, "S3_ACCESS_KEY") {
			t.Fatalf("want exit 1 naming BLOB_DIR and S3_*:\n%s", r)
		}
	})
}

// TestGetFromS3 downloads from a real MinIO, where the worker stored.
func TestGetFromS3(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, true)
	ctx := context.Background()
	r := amlctl(ctx, p.env, "lookup", "--wait", "--timeout", "30s", "--lookup-id", "s3-no", "--report", "aml", "923609016")
	if r.code != 0 || !strings.Contains(r.stdout, "results/lookups/s3-no/report-aml.pdf") {
		t.Fatalf("lookup: want exit 0 and the object:\n%s", r)
	}
	dir := t.TempDir()
	r = amlctl(ctx, p.env, "get", "--dir", dir, "s3-no")
	if r.code != 0 {
		t.Fatalf("get: want exit 0:\n%s", r)
	}
	checkDownloaded(t, ctx, p, r, dir, "s3-no", "json.json", "report-aml.pdf")

	// Wrong credentials: the error says where it read from.
	r = amlctl(ctx, p.with("S3_SECRET_KEY", "wrong"), "get", "--dir", t.TempDir(), "s3-no")
	if r.code != 1 || !strings.Contains(r.stderr, "bucket results") || strings.Contains(r.stderr, "wrong") {
		t.Fatalf("get with a wrong secret: want exit 1 naming the bucket, not the secret:\n%s", r)
	}
}

// checkDownloaded checks that get printed each file's path and wrote it,
// mode 0600, with the size and sha256 of the completed event.
func checkDownloaded(t *testing.T, ctx context.Context, p *pipeline, r result, dir, lookupID string, files ...string) {
	t.Helper()
	paths := strings.Fields(r.stdout)
	if len(paths) != len(files) {
		t.Fatalf("want %d paths:\n%s", len(files), r)
	}
	events := amlctl(ctx, p.env, "events", "--lookup", lookupID, "--json", "--follow=false")
	var completed kybflow.CompletedData
	for line := range strings.SplitSeq(strings.TrimSpace(events.stdout), "\n") {
		e, err := kybflow.DecodeEvent([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if d, ok := e.Data.(kybflow.CompletedData); ok {
			completed = d
		}
	}
	want := map[string]kybflow.Artifact{}
	for _, a := range completed.Artifacts {
		want[filepath.Base(a.Key)] = a
	}
	for i, name := range files {
		path := filepath.Join(dir, lookupID, name)
		if paths[i] != path {
			t.Errorf("path %d is %s, want %s", i, paths[i], path)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		a := want[name]
		if hex.EncodeToString(sum[:]) != a.SHA256 || int64(len(data)) != a.Size {
			t.Errorf("%s: %d bytes sha256 %x; the event says %d bytes sha256 %s", name, len(data), sum, a.Size, a.SHA256)
		}
		if strings.HasSuffix(name, ".pdf") && !strings.HasPrefix(string(data), "%PDF-") {
			t.Errorf("%s does not start with %%PDF-: %q", name, data[:min(len(data), 16)])
		}
		if strings.HasSuffix(name, ".json") && !json.Valid(data) {
			t.Errorf("%s is not JSON", name)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (%v)", name, fi.Mode().Perm(), err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, lookupID))
	if len(entries) != len(files) {
		t.Errorf("%d files in %s, want %d (no temporary files left): %v", len(entries), dir, len(files), entries)
	}
}

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
		want := fmt.Sprintf("cannot reach NATS at nats://kyb:xxxxx@%s (set NATS_URL): ", addr)
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
		{"get", "a.b"},
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
		{"erase", "a.b"},
		{"erase", "--blob-key-prefix", "../up", "x"},
		{"erase", "--event-source", "not a uri", "x"},
		{"erase", "--s3-endpoint", "127.0.0.1:9000", "--s3-access-key", "k", "--s3-secret-key", "s", "x"}, // no S3_BUCKET
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

func TestPrintArtifacts(t *testing.T) {
	var b strings.Builder
	PrintArtifacts(&b, kybflow.CompletedData{Artifacts: []kybflow.Artifact{
		{Name: "json", Bucket: "results", Key: "lookups/x/json.json", Size: 812, SHA256: strings.Repeat("ab", 32)},
		{Name: "report:aml", Bucket: "results", Key: "lookups/x/report-aml.pdf", Size: 3 << 20, SHA256: strings.Repeat("cd", 32)},
	}}, "/srv/blobs")
	got := b.String()
	for _, want := range []string{"json", "812 B", "abababababab ", "results/lookups/x/json.json", "/srv/blobs/lookups/x/json.json",
		"report:aml", "3.0 MiB", "results/lookups/x/report-aml.pdf", "/srv/blobs/lookups/x/report-aml.pdf"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	b.Reset()
	PrintArtifacts(&b, kybflow.CompletedData{Artifacts: []kybflow.Artifact{{Name: "json", Bucket: "b", Key: "k/json.json", SHA256: "00"}}}, "")
	if strings.Contains(b.String(), "FILE") {
		t.Errorf("a FILE column without blobDir:\n%s", b.String())
	}
}

// lineWith is the first line of s that contains sub.
func lineWith(s, sub string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}
