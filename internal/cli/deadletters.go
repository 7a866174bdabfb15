package cli

// amlctl deadletters: the commands whose lookupId the worker could not
// read, a shell over internal/deadletters: list and show read them; replay
// (deadletters_replay.go) sends one back, corrected; purge deletes them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/deadletters"
)

const deadlettersUsage = `Usage: amlctl deadletters COMMAND [flags] [SEQ...]

A dead letter is a command whose lookupId the worker could not read (not a
JSON object with a valid top-level lookupId), so that no event can answer it.
The worker keeps it, byte for byte (its first 64 KiB when it was too large),
in the stream <PREFIX>_DEADLETTER, with the reason in headers, for the
worker's DEADLETTER_MAX_AGE. SEQ is a dead letter's sequence in that stream,
as list prints it.

Commands:
  list                        one line per dead letter: sequence, time, size, reason
  show SEQ                    its headers and its body
  replay SEQ...|--all         publish the body (corrected with --edit or --data) as a
                              lookup command again, then delete the dead letter
  purge [SEQ...] --yes        delete them (all without SEQ); without --yes, only say
                              what would be deleted

'amlctl deadletters COMMAND --help' gives every flag and variable of COMMAND.
`

// deadletterCommands are the subcommands of deadletters.
func deadletterCommands() map[string]func(a *app, ctx context.Context, args []string) error {
	return map[string]func(a *app, ctx context.Context, args []string) error{
		"list": (*app).runDeadLettersList, "show": (*app).runDeadLettersShow,
		"replay": (*app).runDeadLettersReplay, "purge": (*app).runDeadLettersPurge,
	}
}

func (a *app) runDeadLetters(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("want a command: list, show, replay or purge")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, deadlettersUsage)
		return errHelpShown
	}
	run, ok := deadletterCommands()[args[0]]
	if !ok {
		return usagef("unknown command %q: want list, show, replay or purge", args[0])
	}
	return run(a, ctx, args[1:])
}

// openDeadLetters connects and finds the dead-letter stream; the caller
// calls the returned func to close the connection.
func openDeadLetters(ctx context.Context, conn *natsSettings) (*deadletters.Stream, kybflow.Subjects, func(), error) {
	subjects, err := conn.subjects()
	if err != nil {
		return nil, subjects, nil, err
	}
	nc, js, err := conn.connect()
	if err != nil {
		return nil, subjects, nil, err
	}
	dl, err := deadletters.Open(ctx, js, subjects)
	if err != nil {
		nc.Close()
		return nil, subjects, nil, streamError(subjects, subjects.DeadLetterStream(), err)
	}
	return dl, subjects, nc.Close, nil
}

// get is the dead letter at seq, or an error that says there is none.
func get(ctx context.Context, dl *deadletters.Stream, seq uint64) (deadletters.DeadLetter, error) {
	d, err := dl.Get(ctx, seq)
	if errors.Is(err, deadletters.ErrNotFound) {
		return d, fmt.Errorf("no dead letter %d in %s (replayed or purged already? see amlctl deadletters list)", seq, dl.Name())
	}
	return d, err
}

// pick is the dead letters at seqs, or all of them without.
func pick(ctx context.Context, dl *deadletters.Stream, seqs []uint64) ([]deadletters.DeadLetter, error) {
	if len(seqs) == 0 {
		return dl.List(ctx)
	}
	out := make([]deadletters.DeadLetter, 0, len(seqs))
	for _, seq := range seqs {
		d, err := get(ctx, dl, seq)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// parseSeqs reads the SEQ arguments.
func parseSeqs(pos []string) ([]uint64, error) {
	var out []uint64
	for _, p := range pos {
		seq, err := strconv.ParseUint(p, 10, 64)
		if err != nil || seq == 0 {
			return nil, usagef("%q is not a dead letter's sequence (a positive number, as amlctl deadletters list prints)", p)
		}
		if !slices.Contains(out, seq) {
			out = append(out, seq)
		}
	}
	return out, nil
}

const deadlettersListAbout = `
Prints one line per dead letter, oldest first: its sequence in the dead-letter
stream (the SEQ of show, replay and purge), when it was dead-lettered, the
command's size ("truncated" when only its first 64 KiB were kept) and the
reason. With --json each line is a JSON object: seq, time, size, truncated,
sha256 (of the whole command, when truncated), subject, stream and sequence
(where the command was published and read from) and reason.`

func (a *app) runDeadLettersList(ctx context.Context, args []string) error {
	var (
		conn   natsSettings
		asJSON bool
	)
	f := a.newFlags("deadletters list", "amlctl deadletters list [flags]", deadlettersListAbout)
	f.Bool(&asJSON, "json", false, "print each dead letter as a JSON object on one line")
	conn.register(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q (to see one dead letter: amlctl deadletters show SEQ)", pos[0])
	}
	dl, _, closeConn, err := openDeadLetters(ctx, &conn)
	if err != nil {
		return err
	}
	defer closeConn()
	all, err := dl.List(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return printDeadLettersJSON(a.stdout, all)
	}
	if len(all) == 0 {
		fmt.Fprintf(a.stderr, "no dead letters in %s\n", dl.Name())
		return nil
	}
	printDeadLetters(a.stdout, all)
	return nil
}

// printDeadLetters prints the lines of list.
func printDeadLetters(w io.Writer, all []deadletters.DeadLetter) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tSIZE\tREASON")
	for _, d := range all {
		size := humanSize(d.Size())
		if d.Truncated() {
			size += " truncated"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", d.Seq, d.Time.UTC().Format(time.RFC3339), size, d.Reason())
	}
	tw.Flush()
}

// deadLetterJSON is a line of list --json.
type deadLetterJSON struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Size      int64     `json:"size"`
	Truncated bool      `json:"truncated"`
	SHA256    string    `json:"sha256,omitempty"`
	Subject   string    `json:"subject"`
	Stream    string    `json:"stream"`
	Sequence  uint64    `json:"sequence"`
	Reason    string    `json:"reason"`
}

func printDeadLettersJSON(w io.Writer, all []deadletters.DeadLetter) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	for _, d := range all {
		line := deadLetterJSON{
			Seq: d.Seq, Time: d.Time.UTC(), Size: d.Size(), Truncated: d.Truncated(), SHA256: d.SHA256(),
			Subject: d.Subject(), Reason: d.Reason(),
		}
		line.Stream, line.Sequence = d.Origin()
		if err := enc.Encode(line); err != nil {
			return err
		}
	}
	return nil
}

const deadlettersShowAbout = `
Prints the dead letter's headers (the reason, where the command was published
and read from, and for a truncated one the whole command's size and sha256),
then an empty line and the body as it was published, byte for byte (a line
break is added after a body that lacks one). A truncated body is said to be
so: it is only the command's first 64 KiB. --body prints the body alone,
exactly, to keep or correct in a file: amlctl deadletters show --body SEQ >
command.json, then amlctl deadletters replay --data command.json SEQ.`

func (a *app) runDeadLettersShow(ctx context.Context, args []string) error {
	var (
		conn     natsSettings
		bodyOnly bool
	)
	f := a.newFlags("deadletters show", "amlctl deadletters show [flags] SEQ", deadlettersShowAbout)
	f.Bool(&bodyOnly, "body", false, "print only the body, byte for byte")
	conn.register(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one SEQ, got %d arguments", len(pos))
	}
	seqs, err := parseSeqs(pos)
	if err != nil {
		return err
	}
	dl, _, closeConn, err := openDeadLetters(ctx, &conn)
	if err != nil {
		return err
	}
	defer closeConn()
	d, err := get(ctx, dl, seqs[0])
	if err != nil {
		return err
	}
	if bodyOnly {
		_, err := a.stdout.Write(d.Data)
		if d.Truncated() {
			fmt.Fprintf(a.stderr, "dead letter %d is %s\n", d.Seq, d.Truncation())
		}
		return err
	}
	fmt.Fprintf(a.stdout, "dead letter %d of %s, %s\n", d.Seq, dl.Name(), d.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	names := make([]string, 0, len(d.Header))
	for name := range d.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range d.Header.Values(name) {
			fmt.Fprintf(a.stdout, "%s: %s\n", name, v)
		}
	}
	if d.Truncated() {
		fmt.Fprintf(a.stdout, "body: %s; it cannot be replayed as it is\n\n", d.Truncation())
	} else {
		fmt.Fprintf(a.stdout, "body: %d bytes\n\n", len(d.Data))
	}
	if _, err := a.stdout.Write(d.Data); err != nil {
		return err
	}
	if n := len(d.Data); n > 0 && d.Data[n-1] != '\n' {
		fmt.Fprintln(a.stdout)
	}
	return nil
}

// plural is "1 thing" or "n things"; things, when given, is the plural
// form.
func plural(n int, thing string, things ...string) string {
	if n == 1 {
		return "1 " + thing
	}
	if len(things) > 0 {
		return strconv.Itoa(n) + " " + things[0]
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
