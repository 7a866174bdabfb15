package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/blob"
)

const lookupAbout = `
Builds a lookup command for IDENTIFIER (an organization number of --country,
or a DUNS number with --identifier-type duns), checks it as the worker will
(unless --no-validate), and publishes it to <prefix>.commands.lookup with
Nats-Msg-Id set to its lookupId, so that JetStream drops a second copy: the
same --lookup-id is the same lookup ("already submitted").

Without --wait it prints the lookupId, and how to follow the lookup, and exits.
With --wait it prints one line per event (accepted, session opened, completed
or failed) as the worker publishes them, then the artifacts of a completed
lookup (with their local paths when BLOB_DIR is set) or the failure's code,
reason and whether it is retryable. Exit status: 0 completed, 1 failed (or
the command is invalid, or NATS cannot be reached), 2 --timeout passed or
interrupted (the lookup goes on; follow it with amlctl events --lookup ID --all).`

func (a *app) runLookup(ctx context.Context, args []string) error {
	var (
		conn                                       natsSettings
		storage                                    storageSettings
		typ, country, idType, language             string
		lookupID, correlationID, metadata          string
		expands, reports                           []string
		beneficialOwners, wait, asJSON, noValidate bool
		timeout                                    time.Duration
	)
	f := a.newFlags("lookup", "amlctl lookup [flags] IDENTIFIER", lookupAbout+expandsHelp())
	f.String(&typ, "type", string(kybflow.TypeOrganization), "`TYPE` of lookup: organization or beneficial_owners")
	f.Bool(&beneficialOwners, "beneficial-owners", false, "shorthand for --type beneficial_owners (Norwegian organizations only)")
	f.String(&country, "country", string(kybflow.CountryNO), "the organization's `COUNTRY`: NO, SE or FI")
	f.String(&idType, "identifier-type", "", "what IDENTIFIER is, a `KIND`: organization_number or duns (empty: the worker's default, organization_number)")
	f.List(&expands, "expand", "a result `BLOCK` to include (listed above); repeatable or comma-separated: --expand roles,ownership")
	f.List(&reports, "report", "a signed PDF `REPORT` to store: aml or certificate_of_incorporation (beneficial_owners: aml only); repeatable or comma-separated")
	f.String(&language, "language", "", "the reports' `LANGUAGE`: en, no, nb or nn (empty: the AML API's default)")
	f.String(&lookupID, "lookup-id", "", "the lookup's `ID`, its idempotency key: [A-Za-z0-9_-]{1,128} (default: generated, cli-<UTC time>-<random>)")
	f.String(&correlationID, "correlation-id", "", "your own reference `ID`, echoed in every event")
	f.String(&metadata, "metadata", "", "a `JSON` object echoed unchanged in every event, e.g. '{\"case\":\"77\"}'")
	f.Bool(&wait, "wait", false, "follow the lookup's events until it completes or fails")
	f.Duration(&timeout, "timeout", 5*time.Minute, "with --wait: how long to wait for the result, a `DURATION` like 30s or 10m")
	f.Bool(&asJSON, "json", false, "print JSON only: with --wait the final event (a CloudEvent), otherwise the submission")
	f.Bool(&noValidate, "no-validate", false, "send the command without checking it first; the worker's failed event then says what is wrong")
	conn.register(f)
	storage.register(f, blob.PartDir)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one IDENTIFIER (an organization number), got %d arguments", len(pos))
	}
	if beneficialOwners {
		if f.isSet("type") && typ != string(kybflow.TypeBeneficialOwners) {
			return usagef("--beneficial-owners contradicts --type %s", typ)
		}
		typ = string(kybflow.TypeBeneficialOwners)
	}
	if wait && timeout <= 0 {
		return usagef("--timeout must be positive, got %s", timeout)
	}
	if metadata != "" && !json.Valid([]byte(metadata)) {
		return usagef("--metadata is not valid JSON: %s", metadata)
	}
	subjects, err := conn.subjects()
	if err != nil {
		return err
	}
	if lookupID == "" {
		lookupID = newLookupID(time.Now())
	}
	if wait && !kybflow.ValidLookupID(lookupID) {
		// Without --wait, --no-validate may send it: the worker dead-letters it.
		return usagef("--lookup-id %q is not a lookupId ([A-Za-z0-9_-]{1,128}), so its events cannot be followed", lookupID)
	}

	cmd := kybflow.LookupCommand{
		LookupID: lookupID, Type: kybflow.LookupType(typ), Country: kybflow.Country(country),
		IdentifierType: kybflow.IdentifierType(idType), Identifier: pos[0], Expands: expands,
		Language: language, CorrelationID: correlationID, Metadata: json.RawMessage(metadata),
	}
	for _, r := range reports {
		cmd.Reports = append(cmd.Reports, kybflow.ReportType(r))
	}
	data, err := kybflow.MarshalKeepingMetadata(cmd, cmd.Metadata, "metadata") // --metadata as typed, byte for byte
	if err != nil {
		return fmt.Errorf("encode command: %w", err)
	}
	if !noValidate {
		if _, err := kybflow.ParseCommand(data); err != nil {
			return &exitError{code: exitFailure, msg: invalidCommandMessage(err)}
		}
	}

	nc, js, err := conn.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := newClient(nc, subjects, conn.tenant)
	if err != nil {
		return err
	}

	waitCtx := ctx
	if wait {
		var cancel context.CancelFunc
		waitCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var duplicate bool
	if noValidate {
		// As given, past the client's checks: the worker's events say what
		// it makes of it.
		duplicate, err = publishCommand(waitCtx, js, subjects, conn.tenant, lookupID, data)
	} else {
		var st client.Submission
		st, err = c.SubmitStatus(waitCtx, cmd)
		duplicate = st.Duplicate || st.Accepted
		if errors.Is(err, client.ErrLookupIDConflict) {
			return &exitError{code: exitFailure, msg: err.Error() + "; send a new --lookup-id to look up again"}
		}
		if err != nil {
			err = streamError(subjects, subjects.CommandsStream(), err)
		}
	}
	if err != nil {
		return waitError(ctx, waitCtx, lookupID, timeout, err)
	}
	if !wait {
		return a.printSubmitted(lookupID, duplicate, asJSON)
	}

	progress := a.stdout
	if asJSON {
		progress = io.Discard
	} else if duplicate {
		fmt.Fprintf(a.stdout, "lookup %s was already submitted (JetStream dropped this copy); following it\n", lookupID)
	} else {
		fmt.Fprintf(a.stdout, "submitted lookup %s; waiting up to %s\n", lookupID, timeout)
	}
	ev, raw, err := follow(waitCtx, c, lookupID, progress)
	if err != nil {
		return waitError(ctx, waitCtx, lookupID, timeout, err)
	}
	if asJSON {
		if err := printJSONLine(a.stdout, raw); err != nil {
			return err
		}
	}
	switch d := ev.Data.(type) {
	case kybflow.CompletedData:
		if !asJSON {
			PrintArtifacts(a.stdout, d, storage.Dir)
			fmt.Fprintf(a.stdout, "download them: amlctl get %s\n", lookupID)
		}
		return nil
	case kybflow.FailedData:
		// The progress line said why.
		return &exitError{code: exitFailure}
	case kybflow.ErasedData:
		return &exitError{code: exitFailure, msg: fmt.Sprintf("lookup %s was erased: its results and events are deleted", lookupID)}
	}
	return fmt.Errorf("lookup %s ended with an event of unknown type %s", lookupID, ev.Type)
}

// waitError explains an error of lookup: when it came from an interruption
// (ctx) or from --timeout (waitCtx), exit 2 and say how to follow the
// lookup, which goes on without us.
func waitError(ctx, waitCtx context.Context, lookupID string, timeout time.Duration, err error) error {
	switch {
	case ctx.Err() != nil:
		return &exitError{code: exitUsage, msg: fmt.Sprintf("interrupted; lookup %s may go on: amlctl events --lookup %s --all", lookupID, lookupID)}
	case waitCtx.Err() != nil:
		return &exitError{code: exitUsage, msg: fmt.Sprintf("no result for lookup %s within %s (--timeout); it may go on: amlctl events --lookup %s --all", lookupID, timeout, lookupID)}
	}
	return err
}

// expandsHelp lists the expands and languages the contract allows.
func expandsHelp() string {
	return "\n\n" + wrap(fmt.Sprintf("Expands (--expand) of organization lookups: %s. Of beneficial_owners lookups: %s.",
		strings.Join(kybflow.Expands(kybflow.TypeOrganization), ", "),
		strings.Join(kybflow.Expands(kybflow.TypeBeneficialOwners), ", ")), 80)
}

// publishCommand publishes the command with its lookupId as Nats-Msg-Id,
// into the commands stream only, and reports whether JetStream already had
// it.
func publishCommand(ctx context.Context, js jetstream.JetStream, subjects kybflow.Subjects, tenant, lookupID string, data []byte) (duplicate bool, err error) {
	msg := nats.NewMsg(subjects.CommandLookupOf(tenant))
	msg.Data = data
	stream := subjects.CommandsStream()
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(kybflow.LookupKey(tenant, lookupID)), jetstream.WithExpectStream(stream))
	if err != nil {
		return false, fmt.Errorf("publish lookup %s: %w", lookupID, streamError(subjects, stream, err))
	}
	return ack.Duplicate, nil
}

func (a *app) printSubmitted(lookupID string, duplicate, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(struct {
			LookupID  string `json:"lookupId"`
			Duplicate bool   `json:"duplicate"`
		}{lookupID, duplicate})
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	}
	if duplicate {
		fmt.Fprintf(a.stderr, "lookup %s was already submitted: JetStream dropped this copy (same Nats-Msg-Id); send a new --lookup-id to look up again\n", lookupID)
	}
	fmt.Fprintln(a.stdout, lookupID)
	fmt.Fprintf(a.stderr, "follow it:  amlctl events --lookup %s --all\nresults:    amlctl get %s\n", lookupID, lookupID)
	return nil
}

// invalidCommandMessage is ParseCommand's complaint, with what to do.
func invalidCommandMessage(err error) string {
	var ce *kybflow.CommandError
	if !errors.As(err, &ce) {
		return err.Error()
	}
	msg := ce.Reason
	if ce.Code == kybflow.CodeInvalidIdentifier {
		msg += " (for a DUNS number say --identifier-type duns; --no-validate sends it anyway)"
	} else {
		msg += " (--no-validate sends it anyway)"
	}
	return msg
}

// newLookupID is cli-<UTC time>-<8 random hex digits>.
func newLookupID(now time.Time) string {
	var b [4]byte
	rand.Read(b[:])
	return "cli-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// printJSONLine prints a JSON document on one line.
func printJSONLine(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return fmt.Errorf("event is not JSON: %w", err)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}
