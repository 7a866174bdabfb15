// TestAgainstPipeline: lookup, events and get against one running system.

package cli

import (
	"context"
	"errors"
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

// lineWith is the first line of s that contains sub.
func lineWith(s, sub string) string {
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			return line
		}
	}
	return ""
}
