package kybflow_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kybflow/kybflow"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// golden compares got with testdata/<name>, or writes it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run go test -update and review the diff)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func indent(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// commandGolden is what testdata/commands/<name>.golden records for the
// command in <name>.json: the parsed command or the error, and whether the
// schema accepts the input. Files named ok-* must parse, bad-* must not.
type commandGolden struct {
	Command *kybflow.LookupCommand `json:"command,omitempty"`
	Error   *commandErrorJSON      `json:"error,omitempty"`
	Schema  string                 `json:"schema"` // "valid" or "invalid"
}

type commandErrorJSON struct {
	Code          kybflow.FailureCode `json:"code"`
	Field         string              `json:"field,omitempty"`
	Reason        string              `json:"reason"`
	LookupID      string              `json:"lookupId,omitempty"`
	CorrelationID string              `json:"correlationId,omitempty"`
	Metadata      json.RawMessage     `json:"metadata,omitempty"`
	Unwraps       string              `json:"unwraps,omitempty"` // "identifier.ErrInvalid" when it does
}

func TestGoldenCommands(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "commands", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no command files: %v", err)
	}
	set := schemas(t)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var g commandGolden
			g.Schema = "valid"
			if err := validate(set.command, data); err != nil {
				g.Schema = "invalid"
			}
			c, err := kybflow.ParseCommand(data)
			switch {
			case strings.HasPrefix(name, "ok-"):
				if err != nil {
					t.Fatalf("ParseCommand: %v", err)
				}
				if g.Schema != "valid" {
					t.Errorf("the code accepts the command, the schema does not: %v", validate(set.command, data))
				}
				g.Command = &c
			case strings.HasPrefix(name, "bad-"):
				var ce *kybflow.CommandError
				if !errors.As(err, &ce) {
					t.Fatalf("ParseCommand error = %v, want a *CommandError", err)
				}
				g.Error = &commandErrorJSON{
					Code: ce.Code, Field: ce.Field, Reason: ce.Reason,
					LookupID: ce.LookupID, CorrelationID: ce.CorrelationID, Metadata: ce.Metadata,
				}
				if errors.Is(err, identifierErrInvalid) {
					g.Error.Unwraps = "identifier.ErrInvalid"
				}
			default:
				t.Fatalf("name a command file ok-* or bad-*")
			}
			golden(t, filepath.Join("commands", name+".golden"), indent(t, g))
		})
	}
}

// Fixed inputs for the golden events.
var (
	goldenTime    = time.Date(2026, 3, 2, 9, 30, 15, 123000000, time.UTC)
	goldenCommand = mustParse(`{"lookupId": "onb-2026-000123", "type": "organization", "identifier": "923609016",
		"expands": ["roles"], "reports": ["aml"], "correlationId": "case-77", "metadata": { "customer": "c-991" }}`)
	goldenSession = "6f1c1a4e-8a52-4c55-9d1e-2b7f3c9a0d11"
	// goldenSigner signs the golden reports (an RFC 4514 subject).
	goldenSigner = "CN=BankID AML Reports,O=BankID BankAxept AS,C=NO"
)

func mustParse(s string) kybflow.LookupCommand {
	c, err := kybflow.ParseCommand([]byte(s))
	if err != nil {
		panic(err)
	}
	return c
}

// goldenArtifacts are the artifacts of goldenCommand, keyed the default way.
func goldenArtifacts(t testing.TB, c kybflow.LookupCommand) []kybflow.Artifact {
	t.Helper()
	var keys kybflow.ObjectKeys
	var out []kybflow.Artifact
	names := []string{kybflow.ArtifactJSON}
	for _, r := range c.Reports {
		names = append(names, kybflow.ReportArtifactName(r))
	}
	for i, n := range names {
		key, err := keys.Key(c.Key(), n)
		if err != nil {
			t.Fatal(err)
		}
		a := kybflow.Artifact{
			Name: n, Bucket: "kybflow-results", Key: key, Size: int64(1000 * (i + 1)),
			SHA256:      strings.Repeat("0123456789abcdef", 4),
			ContentType: kybflow.ArtifactContentType(n),
		}
		if _, isReport := kybflow.ArtifactReport(n); isReport {
			signedAt := goldenTime.Add(-time.Minute)
			a.Signature = &kybflow.ReportSignature{Status: kybflow.SignatureValid, Signer: goldenSigner, SignedAt: &signedAt}
		}
		out = append(out, a)
	}
	return out
}

// goldenSummary is the summary of goldenCommand's JSON: it asked for the
// roles (and, with its aml report, links.reports), and no sanction
// screening.
func goldenSummary() *kybflow.Summary {
	roles := 4
	return &kybflow.Summary{Organization: &kybflow.OrganizationSummary{
		Status: kybflow.StatusActive, Sanction: kybflow.SanctionNotRequested, Roles: &roles,
	}}
}

// goldenEvents is one event of each kind: of goldenCommand for the kinds
// of a lookup, a second apart in the order of its life (as before monitors
// existed: the golden files and docs/contract.md keep their times); of the
// golden monitor (monitor_golden_test.go) for changed and monitor.
func goldenEvents(t testing.TB) map[kybflow.Kind]kybflow.Event {
	t.Helper()
	c := goldenCommand
	failed := c.FailedData(kybflow.CodeSessionFailed, "the AML API cancelled the session")
	failed.SessionID = goldenSession
	completed := c.CompletedData(goldenSession, goldenArtifacts(t, c))
	completed.Summary = goldenSummary()
	at := func(s int) time.Time { return goldenTime.Add(time.Duration(s) * time.Second) }
	lookup := []struct {
		kind kybflow.Kind
		data any
	}{
		{kybflow.KindAccepted, c.AcceptedData()},
		{kybflow.KindSessionOpened, c.SessionOpenedData(goldenSession)},
		{kybflow.KindCompleted, completed},
		{kybflow.KindFailed, failed},
		// The erasure's time is the event's (the fifth, 4 s after the first).
		{kybflow.KindErased, kybflow.ErasedData{LookupID: c.LookupID, ErasedAt: at(4)}},
	}
	events := map[kybflow.Kind]kybflow.Event{}
	for i, l := range lookup {
		e, err := kybflow.NewEvent(kybflow.DefaultSource, l.kind, c.LookupID, at(i), l.data)
		if err != nil {
			t.Fatalf("NewEvent(%s): %v", l.kind, err)
		}
		events[l.kind] = e
	}
	changed, err := kybflow.NewEvent(kybflow.DefaultSource, kybflow.KindChanged, goldenRunID(), goldenRunAt.Add(2*time.Second), goldenChangedData(t))
	if err != nil {
		t.Fatalf("NewEvent(changed): %v", err)
	}
	events[kybflow.KindChanged] = changed
	monitor, err := kybflow.NewMonitorEvent(kybflow.DefaultSource, goldenMonitorID, kybflow.MonitorCommandN(goldenMonitorSeq), goldenTime, goldenMonitorData())
	if err != nil {
		t.Fatalf("NewMonitorEvent: %v", err)
	}
	events[kybflow.KindMonitor] = monitor
	if len(events) != len(kybflow.Kinds()) {
		t.Fatalf("%d golden events, want one of each of the %d kinds", len(events), len(kybflow.Kinds()))
	}
	return events
}

func TestGoldenEvents(t *testing.T) {
	set := schemas(t)
	for k, e := range goldenEvents(t) {
		t.Run(string(k), func(t *testing.T) {
			b, err := kybflow.EncodeEvent(e)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, b, "", "  "); err != nil {
				t.Fatal(err)
			}
			pretty.WriteByte('\n')
			name := filepath.Join("events", string(k)+".json")
			golden(t, name, pretty.Bytes())

			// The golden file validates, and decodes to the event.
			file, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			if err := validate(set.event, file); err != nil {
				t.Errorf("event schema: %v", err)
			}
			got, err := kybflow.DecodeEvent(file)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			assertSameEvent(t, got, e)
			// The encoding decodes to the event itself, byte for byte.
			back, err := kybflow.DecodeEvent(b)
			if err != nil {
				t.Fatalf("DecodeEvent: %v", err)
			}
			assertEqual(t, back, e)
		})
	}
}

// assertSameEvent checks that got and want are the same event but for the
// whitespace of their metadata, which DecodeEvent keeps as the JSON has it
// (an indented golden file indents it): their encodings, compacted, are
// equal.
func assertSameEvent(t *testing.T, got, want kybflow.Event) {
	t.Helper()
	compact := func(e kybflow.Event) []byte {
		t.Helper()
		b, err := kybflow.EncodeEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, b); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	if g, w := compact(got), compact(want); !bytes.Equal(g, w) {
		t.Errorf("events differ:\ngot  %s\nwant %s", g, w)
	}
}
