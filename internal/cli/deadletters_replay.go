package cli

// amlctl deadletters replay: a dead letter's body, as it is or corrected
// in the user's editor or from a file, replayed (deadletters.Replay).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/deadletters"
)

const deadlettersReplayAbout = `
Publishes the body of each dead letter SEQ (of every one with --all) to
<prefix>.commands.lookup again, as a lookup command, and once JetStream has
stored it deletes the dead letter, so that a second replay cannot send it
twice. The command's Nats-Msg-Id is replay-<stream>-<SEQ> of the dead letter
(replay-AML_DEADLETTER-3), so that a replay retried within the worker's
DUPLICATE_WINDOW (after a lost answer, or a delete that failed) is dropped by
the stream, and the first one stands.

A dead letter is a command the worker could not attribute to a lookup, so it is
usually replayed corrected:
  --edit       opens the editor named by VISUAL, else EDITOR, on a temporary
               file (mode 0600, removed afterwards) holding the body, and replays
               what is saved. Saved empty or unchanged, it replays nothing and
               keeps the dead letter (to replay a body as it is, leave --edit
               out). With several dead letters, each is edited in turn.
  --data FILE  replays FILE's contents instead of the body, for one SEQ.
Without either the body is replayed as it is (after a fix of the worker, say).
A truncated dead letter holds only the command's first 64 KiB, so it is never
replayed as it is: give the whole command with --data, or rebuild it with
--edit. A body whose lookupId still cannot be read is not replayed, since the
worker would dead-letter it again; one with a readable lookupId that is
otherwise invalid is replayed, and the worker answers it with a failed event.

Exit status: 0 every dead letter replayed; 1 one or more not replayed (each one
says why; the others are replayed).`

func (a *app) runDeadLettersReplay(ctx context.Context, args []string) error {
	var (
		conn      natsSettings
		all, edit bool
		dataFile  string
	)
	f := a.newFlags("deadletters replay", "amlctl deadletters replay [flags] SEQ...|--all", deadlettersReplayAbout)
	f.Bool(&all, "all", false, "replay every dead letter")
	f.Bool(&edit, "edit", false, "correct each body in VISUAL or EDITOR before it is replayed")
	f.String(&dataFile, "data", "", "replay the contents of `FILE` instead of the body (one SEQ)")
	conn.register(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	seqs, err := parseSeqs(pos)
	if err != nil {
		return err
	}
	switch {
	case all && len(seqs) > 0:
		return usagef("--all or SEQ..., not both")
	case !all && len(seqs) == 0:
		return usagef("want the SEQ of the dead letters to replay, or --all")
	case edit && dataFile != "":
		return usagef("--edit or --data, not both")
	case dataFile != "" && len(seqs) != 1:
		return usagef("--data replays one dead letter: give one SEQ")
	}
	var data []byte
	if dataFile != "" {
		if data, err = os.ReadFile(dataFile); err != nil { //nolint:gosec // G304: the file the user names
			return fmt.Errorf("--data: %w", err)
		}
		if len(bytes.TrimSpace(data)) == 0 {
			return usagef("--data %s is empty", dataFile)
		}
	}
	var editor string
	if edit {
		if editor = a.editor(); editor == "" {
			return usagef("--edit needs an editor: set VISUAL or EDITOR")
		}
	}
	dl, subjects, closeConn, err := openDeadLetters(ctx, &conn)
	if err != nil {
		return err
	}
	defer closeConn()
	picked, err := pick(ctx, dl, seqs)
	if err != nil {
		return err
	}
	if len(picked) == 0 {
		fmt.Fprintf(a.stderr, "no dead letters in %s: nothing to replay\n", dl.Name())
		return nil
	}
	failed := 0
	for _, d := range picked {
		err := a.replay(ctx, dl, subjects, d, editor, data)
		if err == nil {
			continue
		}
		if ctx.Err() != nil || len(picked) == 1 {
			return fmt.Errorf("dead letter %d not replayed: %w", d.Seq, err)
		}
		failed++
		fmt.Fprintf(a.stderr, "amlctl deadletters replay: dead letter %d not replayed: %v\n", d.Seq, err)
	}
	if failed > 0 {
		return &exitError{code: exitFailure, msg: fmt.Sprintf("%d of %s not replayed", failed, plural(len(picked), "dead letter"))}
	}
	return nil
}

// editor is the user's editor: VISUAL, else EDITOR (as git and crontab
// choose).
func (a *app) editor() string {
	for _, name := range []string{"VISUAL", "EDITOR"} {
		if v, ok := a.lookup(name); ok && v != "" {
			return v
		}
	}
	return ""
}

// replay replays one dead letter: its body, or data, or the body as the
// user edits it, and says what it did.
func (a *app) replay(ctx context.Context, dl *deadletters.Stream, subjects kybflow.Subjects, d deadletters.DeadLetter, editor string, data []byte) error {
	var body []byte // the dead letter's own
	how := "as it was"
	switch {
	case data != nil:
		body, how = data, "with the command of --data"
	case editor != "":
		edited, err := a.edit(ctx, editor, d)
		if err != nil {
			return err
		}
		body, how = edited, "as edited"
	}
	r, err := dl.Replay(ctx, d, body)
	switch {
	case errors.Is(err, deadletters.ErrTruncated):
		return fmt.Errorf("%w: give the whole command with --data FILE, or rebuild it with --edit", err)
	case errors.Is(err, deadletters.ErrUnreadable):
		return fmt.Errorf("%w: correct it with --edit or --data", err)
	case err != nil && !errors.Is(err, deadletters.ErrNotDeleted):
		return explainMissing(subjects, subjects.CommandsStream(), err)
	}
	note := ""
	if ce := r.Invalid; ce != nil {
		note = fmt.Sprintf(" (invalid: %s", ce.Code)
		if ce.Field != "" {
			note += " in " + ce.Field
		}
		note += "; the worker will answer it with a failed event)"
	}
	if r.Duplicate {
		fmt.Fprintf(a.stdout, "dead letter %d was replayed already: %s dropped this copy (Nats-Msg-Id %s), and the first replay stands", d.Seq, r.Stream, r.MsgID)
	} else {
		fmt.Fprintf(a.stdout, "replayed dead letter %d %s as lookup %s%s: %d bytes to %s, %s sequence %d (Nats-Msg-Id %s)",
			d.Seq, how, r.LookupID, note, r.Bytes, r.Subject, r.Stream, r.Sequence, r.MsgID)
	}
	if err != nil {
		fmt.Fprintln(a.stdout)
		return fmt.Errorf("%w; replaying it again within DUPLICATE_WINDOW sends nothing twice, or purge it", err)
	}
	if r.Deleted {
		fmt.Fprintf(a.stdout, "; dead letter %d deleted\n", d.Seq)
	} else {
		fmt.Fprintf(a.stdout, "; dead letter %d was deleted already\n", d.Seq)
	}
	return nil
}

// edit lets the user correct a dead letter's body in editor, run by the
// shell as git runs it (so EDITOR may hold arguments, e.g. "code --wait"),
// on a temporary file that only the user can read and that is removed
// afterwards. A body saved empty or unchanged is an error: nothing is
// replayed.
func (a *app) edit(ctx context.Context, editor string, d deadletters.DeadLetter) ([]byte, error) {
	f, err := os.CreateTemp("", fmt.Sprintf("amlctl-deadletter-%d-*.json", d.Seq)) // mode 0600
	if err != nil {
		return nil, fmt.Errorf("temporary file to edit: %w", err)
	}
	name := f.Name()
	defer os.Remove(name)
	_, werr := f.Write(d.Data)
	if err := errors.Join(werr, f.Close()); err != nil {
		return nil, fmt.Errorf("temporary file to edit: %w", err)
	}
	if d.Truncated() {
		fmt.Fprintf(a.stderr, "dead letter %d is %s: rebuild the whole command\n", d.Seq, d.Truncation())
	}
	cmd := exec.CommandContext(ctx, "sh", "-c", editor+` "$@"`, editor, name) //nolint:gosec // G204: the user's own editor, run as git runs it
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, a.stdout, a.stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("editor %q: %w", editor, err)
	}
	edited, err := os.ReadFile(name) //nolint:gosec // G304: the file made above
	if err != nil {
		return nil, fmt.Errorf("read the edited body: %w", err)
	}
	switch {
	case len(bytes.TrimSpace(edited)) == 0:
		return nil, errors.New("saved empty: nothing replayed, and the dead letter is kept")
	case bytes.Equal(edited, d.Data):
		return nil, errors.New("unchanged: nothing replayed, and the dead letter is kept (to replay it as it is, leave out --edit)")
	}
	return edited, nil
}
