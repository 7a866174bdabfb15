// Package cli is amlctl, a command-line client that pokes at a running
// kybflow system the way `nats` or `temporal` do: it submits lookup
// commands (and waits for their result), sends monitor commands (and
// waits for their answer), lists monitors, follows the events stream,
// downloads a completed lookup's artifacts, checking their SHA-256, looks
// after dead letters (list, show, replay, purge) and erases lookups'
// personal data.
//
// The program lives here so that a test can run it whole with Main;
// cmd/amlctl only wires the signals and the exit code. Dead letters and
// erasure are shells here (flags, output, exit status) over the packages
// that do the work, internal/deadletters and internal/erasure, which other
// programs call too. Follow and
// PrintArtifacts are exported for the development mode, which shows the
// same progress.
//
// Every command reads NATS_URL and AML_SUBJECT_PREFIX (the worker's
// variables, with the same defaults); lookup, get and erase read the
// storage variables too. Each variable can also be given as a flag (envconfig).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/kybflow/kybflow/internal/envconfig"
)

// Exit codes.
const (
	exitOK      = 0 // done; a lookup completed
	exitFailure = 1 // a lookup failed, or something could not be done (NATS, storage, an invalid command)
	exitUsage   = 2 // a usage error; also --wait that timed out or was interrupted
)

// app is one run of the program: its environment and its output.
type app struct {
	lookup         envconfig.Lookup
	stdout, stderr io.Writer
}

// command is one amlctl command.
type command struct {
	name    string
	summary string
	run     func(a *app, ctx context.Context, args []string) error
}

func commands() []command {
	return []command{
		{"lookup", "submit a lookup command, and with --wait follow it to its result", (*app).runLookup},
		{"events", "print the events of every lookup, or of one, as they are published", (*app).runEvents},
		{"get", "download a completed lookup's artifacts, checking size and sha256", (*app).runGet},
		{"deadletters", "list, show, replay (corrected) or purge the commands the worker dead-lettered", (*app).runDeadLetters},
		{"erase", "erase lookups' personal data (GDPR): objects, events, record; publish erased", (*app).runErase},
		{"monitors", "create, update, pause, resume, delete, list or show monitors (a lookup re-run on a schedule)", (*app).runMonitors},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// Main runs amlctl with args (without the program name), reading the
// environment through lookup, and returns the exit code: 0 when done (a
// lookup completed), 1 when a lookup failed or something could not be done
// (the message says what to do), 2 for a usage error and for a --wait that
// timed out or was interrupted.
func Main(ctx context.Context, args []string, lookup envconfig.Lookup, stdout, stderr io.Writer) int {
	a := &app{lookup: lookup, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage())
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage())
		return exitOK
	case "help":
		if len(args) == 1 {
			fmt.Fprint(stdout, topUsage())
			return exitOK
		}
		c, ok := findCommand(args[1])
		if !ok {
			fmt.Fprintf(stderr, "amlctl help: unknown command %q; the commands are %s\n", args[1], commandNames())
			return exitUsage
		}
		return a.finish(c.name, c.run(a, ctx, []string{"--help"}))
	}
	c, ok := findCommand(args[0])
	if !ok {
		fmt.Fprintf(stderr, "amlctl: unknown command %q; the commands are %s (see 'amlctl --help')\n", args[0], commandNames())
		return exitUsage
	}
	return a.finish(c.name, c.run(a, ctx, args[1:]))
}

func commandNames() string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

// usageError is a wrong command line: exit 2, with a hint to the help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError ends a command with code after its outcome was printed; msg,
// when set, goes to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// errHelpShown: the command printed its help, as asked.
var errHelpShown = errors.New("help shown")

// finish prints err and turns it into the exit code.
func (a *app) finish(name string, err error) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil, errors.Is(err, errHelpShown):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(a.stderr, "amlctl %s: %s (see 'amlctl %s --help')\n", name, oneLine(ue.msg), name)
		return exitUsage
	case errors.As(err, &ee):
		if ee.msg != "" {
			fmt.Fprintf(a.stderr, "amlctl %s: %s\n", name, ee.msg)
		}
		return ee.code
	default:
		fmt.Fprintf(a.stderr, "amlctl %s: %v\n", name, err)
		return exitFailure
	}
}

func oneLine(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "; ") }

func topUsage() string {
	var b strings.Builder
	b.WriteString(`amlctl submits AML lookups to a running kybflow system, follows their events
and downloads their results.

Usage:
  amlctl lookup [flags] IDENTIFIER   submit a lookup; --wait follows it to its result
  amlctl events [flags]              print lookup events as they are published
  amlctl get [flags] LOOKUP_ID       download a completed lookup's artifacts
  amlctl deadletters list|show SEQ|replay SEQ...|purge [SEQ...]
                                     look after the commands the worker dead-lettered
  amlctl erase [flags] LOOKUP_ID...  erase lookups' personal data (GDPR erasure)
  amlctl monitors create|update|pause|resume|delete [flags] MONITOR_ID [IDENTIFIER]
                                     send a monitor command; --wait prints the answer
  amlctl monitors list|show MONITOR_ID
                                     the monitors, each one's next run and what it costs
  amlctl help COMMAND                every flag and environment variable of COMMAND

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-12s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Environment (each variable can also be given as a flag; see 'amlctl help COMMAND'):
  NATS_URL            NATS server URL(s), comma-separated (all; default nats://127.0.0.1:4222)
  AML_SUBJECT_PREFIX  the worker's subject prefix (all; default aml)
  BLOB_DIR            the worker's result directory, when it stores results locally (lookup, get, erase)
  S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_SECURE
                      the worker's S3 storage (get, erase; erase also S3_BUCKET)

Exit status: 0 done (a lookup completed); 1 a lookup failed, or something could
not be done (the message says what to do); 2 a usage error, or lookup --wait
timed out or was interrupted.

Examples:
  amlctl lookup --wait --report aml 923609016
  amlctl lookup --country SE --json --wait 556036-0793
  amlctl events --all --follow=false
  amlctl get --dir results cli-20260302T093015Z-1a2b3c4d
  amlctl deadletters replay --edit 3
  amlctl erase onb-2026-000123
  amlctl monitors create --every 168h --until 2027-03-01 --wait kyc-923609016 923609016
`)
	return b.String()
}
