package cli

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/deadletters"
	"github.com/kybflow/kybflow/internal/testenv"
)

// TestDeadLetters has the worker dead-letter commands, then lists, shows,
// replays (as they are, corrected from a file and in an editor) and purges
// them with amlctl.
func TestDeadLetters(t *testing.T) {
	t.Parallel()
	p := startPipeline(t, false)
	ctx := context.Background()
	js := jetStreamOf(t, p.natsURL)
	var subjects kybflow.Subjects

	// What the worker dead-letters: no lookupId, not JSON, an invalid lookupId.
	bodies := map[string]string{
		"no-id":    `{"type":"organization","country":"SE","identifier":"5560360793"}`,
		"not-json": `lookup 923609016 please`,
		"bad-id":   `{"lookupId":"a.b","type":"organization","identifier":"923609016"}`,
	}
	for _, name := range []string{"no-id", "not-json", "bad-id"} {
		if _, err := js.Publish(ctx, subjects.CommandLookup(), []byte(bodies[name]), jetstream.WithMsgID("dl-"+name)); err != nil {
			t.Fatal(err)
		}
	}
	// And one truncated, as the worker keeps a command too large to keep
	// whole: its start, its size and its digest.
	whole := []byte(`{"lookupId":"dl-large","type":"organization","identifier":"923609016","metadata":{"pad":"` + strings.Repeat("x", 100) + `"}}`)
	sum := sha256.Sum256(whole)
	trunc := nats.NewMsg(subjects.DeadLetterCommands())
	trunc.Data = whole[:40]
	for k, v := range map[string]string{
		kybflow.HeaderDeadLetterReason: "invalid_command: the command is larger than 65536 bytes", kybflow.HeaderDeadLetterSubject: subjects.CommandLookup(),
		kybflow.HeaderDeadLetterStream: subjects.CommandsStream(), kybflow.HeaderDeadLetterSequence: "999",
		kybflow.HeaderDeadLetterTruncated: "true", kybflow.HeaderDeadLetterSize: strconv.Itoa(len(whole)),
		kybflow.HeaderDeadLetterSHA256: hex.EncodeToString(sum[:]),
	} {
		trunc.Header.Set(k, v)
	}

	var listed []deadLetterJSON
	testenv.Eventually(t, 20*time.Second, func() error {
		r := amlctl(ctx, p.env, "deadletters", "list", "--json")
		if r.code != 0 {
			return errors.New(r.String())
		}
		listed = nil
		for line := range strings.SplitSeq(strings.TrimSpace(r.stdout), "\n") {
			var d deadLetterJSON
			if err := json.Unmarshal([]byte(line), &d); err == nil {
				listed = append(listed, d)
			}
		}
		if len(listed) != 3 {
			return fmt.Errorf("%d dead letters, want the worker's 3:\n%s", len(listed), r)
		}
		return nil
	})
	if _, err := js.PublishMsg(ctx, trunc); err != nil {
		t.Fatal(err)
	}
	// The worker handles commands concurrently: its dead letters may be in
	// any order. Each names the sequence of its command, in publish order.
	slices.SortFunc(listed, func(a, b deadLetterJSON) int { return cmp.Compare(a.Sequence, b.Sequence) })
	seq := map[string]uint64{}
	for i, name := range []string{"no-id", "not-json", "bad-id"} {
		d := listed[i]
		seq[name] = d.Seq
		if d.Size != int64(len(bodies[name])) || d.Truncated || d.Subject != subjects.CommandLookup() || d.Stream != subjects.CommandsStream() ||
			d.Sequence == 0 || !strings.HasPrefix(d.Reason, "invalid_command: ") || d.Time.IsZero() || d.SHA256 != "" {
			t.Errorf("dead letter %s listed as %+v", name, d)
		}
	}

	t.Run("list", func(t *testing.T) {
		r := amlctl(ctx, p.env, "deadletters", "list")
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 5 || !strings.HasPrefix(lines[0], "SEQ") {
			t.Fatalf("want a header and 4 lines:\n%s", r)
		}
		if l := lines[4]; !strings.Contains(l, "truncated") || !strings.Contains(l, humanSize(int64(len(whole)))) || !strings.Contains(l, "larger than") {
			t.Errorf("the truncated one: %q", l)
		}
		r = amlctl(ctx, p.env, "deadletters", "list", "--json")
		var d deadLetterJSON
		last := strings.Split(strings.TrimSpace(r.stdout), "\n")[3]
		if err := json.Unmarshal([]byte(last), &d); err != nil || !d.Truncated || d.Size != int64(len(whole)) || d.SHA256 != hex.EncodeToString(sum[:]) || d.Sequence != 999 {
			t.Errorf("the truncated one as JSON: %s (%v)", last, err)
		}
		seq["truncated"] = d.Seq
	})

	t.Run("show", func(t *testing.T) {
		r := amlctl(ctx, p.env, "deadletters", "show", fmt.Sprint(seq["not-json"]))
		head, body, _ := strings.Cut(r.stdout, "\n\n")
		if r.code != 0 || body != bodies["not-json"]+"\n" {
			t.Fatalf("want the body after the headers:\n%s", r)
		}
		for _, want := range []string{kybflow.HeaderDeadLetterReason + ": invalid_command: ", kybflow.HeaderDeadLetterStream + ": AML_COMMANDS",
			"Nats-Msg-Id: AML_COMMANDS.", fmt.Sprintf("body: %d bytes", len(bodies["not-json"]))} {
			if !strings.Contains(head, want) {
				t.Errorf("no %q in the headers:\n%s", want, head)
			}
		}
		r = amlctl(ctx, p.env, "deadletters", "show", "--body", fmt.Sprint(seq["no-id"]))
		if r.code != 0 || r.stdout != bodies["no-id"] || r.stderr != "" {
			t.Errorf("--body: want the body alone, exactly:\n%s", r)
		}
		r = amlctl(ctx, p.env, "deadletters", "show", fmt.Sprint(seq["truncated"]))
		if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("truncated: the body is the first 40 of the command's %d bytes", len(whole))) ||
			!strings.Contains(r.stdout, "cannot be replayed as it is") {
			t.Errorf("a truncated one says so:\n%s", r)
		}
		r = amlctl(ctx, p.env, "deadletters", "show", "123456")
		if r.code != 1 || !strings.Contains(r.stderr, "no dead letter 123456 in AML_DEADLETTER") {
			t.Errorf("no such dead letter:\n%s", r)
		}
	})

	t.Run("replay refuses what would be dead-lettered again", func(t *testing.T) {
		for _, name := range []string{"no-id", "truncated"} {
			r := amlctl(ctx, p.env, "deadletters", "replay", fmt.Sprint(seq[name]))
			want := map[string]string{"no-id": "lookupId still cannot be read", "truncated": "cannot be replayed as it is"}[name]
			if r.code != 1 || !strings.Contains(r.stderr, want) || r.stdout != "" {
				t.Errorf("%s: want exit 1 and %q:\n%s", name, want, r)
			}
		}
		if r := amlctl(ctx, p.env, "deadletters", "list"); strings.Count(r.stdout, "\n") != 5 {
			t.Errorf("a refused replay deleted something:\n%s", r)
		}
	})

	t.Run("replay --data", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "fixed.json")
		fixed := `{"lookupId":"dl-fixed","type":"organization","country":"SE","identifier":"5560360793"}`
		if err := os.WriteFile(file, []byte(fixed), 0o600); err != nil {
			t.Fatal(err)
		}
		s := fmt.Sprint(seq["no-id"])
		r := amlctl(ctx, p.env, "deadletters", "replay", "--data", file, s)
		if r.code != 0 || !strings.Contains(r.stdout, "replayed dead letter "+s+" with the command of --data as lookup dl-fixed") ||
			!strings.Contains(r.stdout, "Nats-Msg-Id replay-AML_DEADLETTER-"+s) || !strings.Contains(r.stdout, "dead letter "+s+" deleted") {
			t.Fatalf("want the replay and the delete:\n%s", r)
		}
		waitEvent(ctx, t, p, "dl-fixed", kybflow.KindCompleted)
		r = amlctl(ctx, p.env, "deadletters", "replay", "--data", file, s)
		if r.code != 1 || !strings.Contains(r.stderr, "no dead letter "+s) {
			t.Errorf("a second replay: want exit 1, no such dead letter:\n%s", r)
		}
	})

	t.Run("replay --edit", func(t *testing.T) {
		s := fmt.Sprint(seq["not-json"])
		dir := t.TempDir()
		// An editor that does nothing, one that empties the file, and one
		// that writes the corrected command, each noting the file it got.
		editor := func(name, action string) string {
			path := filepath.Join(dir, name)
			script := "#!/bin/sh\necho \"$1\" > " + filepath.Join(dir, name+".file") + "\n" + action + "\n"
			if err := os.WriteFile(path, []byte(script), 0o700); err != nil {
				t.Fatal(err)
			}
			return path
		}
		for _, c := range []struct{ editor, want string }{
			{editor("keep", "true"), "unchanged: nothing replayed"},
			{editor("empty", `: > "$1"`), "saved empty: nothing replayed"},
		} {
			r := amlctl(ctx, p.with("EDITOR", c.editor), "deadletters", "replay", "--edit", s)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
				t.Errorf("%s: want exit 1 and %q:\n%s", c.editor, c.want, r)
			}
		}
		fix := editor("fix", `printf '%s' '{"lookupId":"dl-edited","type":"organization","identifier":"923609016"}' > "$1"`)
		// VISUAL wins over EDITOR.
		r := amlctl(ctx, p.with("EDITOR", editor("keep", "true"), "VISUAL", fix), "deadletters", "replay", "--edit", s)
		if r.code != 0 || !strings.Contains(r.stdout, "replayed dead letter "+s+" as edited as lookup dl-edited") {
			t.Fatalf("want the edited command replayed:\n%s", r)
		}
		tmp, err := os.ReadFile(filepath.Join(dir, "fix.file"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(strings.TrimSpace(string(tmp))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the edited file %s is left: %v", tmp, err)
		}
		waitEvent(ctx, t, p, "dl-edited", kybflow.KindCompleted)
	})

	t.Run("replay --all says what it could not replay", func(t *testing.T) {
		r := amlctl(ctx, p.env, "deadletters", "replay", "--all")
		for _, name := range []string{"bad-id", "truncated"} {
			if !strings.Contains(r.stderr, fmt.Sprintf("dead letter %d not replayed", seq[name])) {
				t.Errorf("%s is not named:\n%s", name, r)
			}
		}
		if r.code != 1 || !strings.Contains(r.stderr, "2 of 2 dead letters not replayed") || r.stdout != "" {
			t.Errorf("want exit 1 and 2 of 2 not replayed:\n%s", r)
		}
	})

	t.Run("a replay whose first copy was stored is not sent twice", func(t *testing.T) {
		s := seq["bad-id"]
		fixed := []byte(`{"lookupId":"dl-once","type":"organization","identifier":"923609016"}`)
		// A first replay was stored, but its answer (or the delete) was lost.
		if _, err := js.Publish(ctx, subjects.CommandLookup(), fixed, jetstream.WithMsgID(deadletters.MsgID("AML_DEADLETTER", s))); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "fixed.json")
		if err := os.WriteFile(file, fixed, 0o600); err != nil {
			t.Fatal(err)
		}
		r := amlctl(ctx, p.env, "deadletters", "replay", "--data", file, fmt.Sprint(s))
		if r.code != 0 || !strings.Contains(r.stdout, "was replayed already") || !strings.Contains(r.stdout, fmt.Sprintf("dead letter %d deleted", s)) {
			t.Fatalf("want replayed already, and the dead letter deleted:\n%s", r)
		}
	})

	t.Run("purge", func(t *testing.T) {
		s := fmt.Sprint(seq["truncated"])
		r := amlctl(ctx, p.env, "deadletters", "purge")
		if r.code != 0 || !strings.Contains(r.stdout, s+" ") || !strings.Contains(r.stderr, "nothing deleted: run again with --yes to delete 1 dead letter") {
			t.Fatalf("without --yes: want what would be deleted, and nothing deleted:\n%s", r)
		}
		if r := amlctl(ctx, p.env, "deadletters", "show", s); r.code != 0 {
			t.Fatalf("purge without --yes deleted it:\n%s", r)
		}
		r = amlctl(ctx, p.env, "deadletters", "purge", "--yes", s)
		if r.code != 0 || !strings.Contains(r.stdout, "deleted dead letter "+s) || !strings.Contains(r.stdout, "deleted 1 dead letter from AML_DEADLETTER") {
			t.Fatalf("--yes: want it deleted:\n%s", r)
		}
		r = amlctl(ctx, p.env, "deadletters", "list")
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no dead letters in AML_DEADLETTER") {
			t.Errorf("want none left:\n%s", r)
		}
		if r := amlctl(ctx, p.env, "deadletters", "purge", "--yes"); r.code != 0 || !strings.Contains(r.stderr, "nothing to delete") {
			t.Errorf("purge of none:\n%s", r)
		}
	})
}

// jetStreamOf connects to url for the test.
func jetStreamOf(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// waitEvent waits until the lookup has an event of kind.
func waitEvent(ctx context.Context, t *testing.T, p *pipeline, lookupID string, kind kybflow.Kind) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, func() error {
		r := amlctl(ctx, p.env, "events", "--lookup", lookupID, "--follow=false")
		if !strings.Contains(r.stdout, lookupID+"  "+string(kind)) {
			return fmt.Errorf("no %s event of %s yet:\n%s", kind, lookupID, r)
		}
		return nil
	})
}
