package cli

// amlctl monitors: send monitor commands (create, update, pause, resume,
// delete) with the public client, and with --wait print the monitor event
// that answers one; delete --erase-history erases the monitor's runs after
// (monitors_erase.go). list and show read the worker's monitor store
// (monitors_list.go).

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/erasure"
)

const monitorsUsage = `Usage: amlctl monitors COMMAND [flags] [MONITOR_ID [IDENTIFIER]]

A monitor looks an organization up again on a schedule and says what changed
since the previous run. Each run is an ordinary lookup, MONITOR_ID-r<Unix
seconds>, with the usual events; a run whose JSON result changed has a
changed event before its completed event (docs/contract.md, Monitors).
MONITOR_ID is 1 to 96 of A-Z a-z 0-9 _ -, yours to choose.

Commands:
  create [flags] MONITOR_ID IDENTIFIER   a monitor of IDENTIFIER, run --every DURATION
                                         or on --cron EXPR
  update [flags] MONITOR_ID [IDENTIFIER] change the schedule, --until, --correlation-id
                                         or --metadata; with IDENTIFIER, the lookup (whole)
  pause MONITOR_ID                       no runs until resumed
  resume MONITOR_ID                      runs again, on its schedule
  delete MONITOR_ID                      no more runs; its runs' lookups are kept
                                         (--erase-history: erased, as amlctl erase does)
  list                                   the monitors: status, schedule, runs, next run
                                         and the sessions each costs per 30 days
  show MONITOR_ID                        one monitor, with its lookup and latest runs

Each command but list and show publishes a monitor command to
<prefix>.commands.monitor (with AML_TENANT: <prefix>.commands.monitor.<tenant>).
--wait waits for the worker's answer, the monitor event on
<prefix>.events.<monitorKey>.monitor, and prints it. Exit status: 0 stored
(with --wait: applied); 1 the worker rejected it (with --wait), or it is
invalid, or NATS cannot be reached; 2 a usage error, or --wait timed out or
was interrupted. list and show read the bucket <PREFIX>_MONITORS (and the
stream <PREFIX>_SCHEDULES), which the operator's NATS user may read.

'amlctl monitors COMMAND --help' gives every flag and variable of COMMAND.
`

// monitorAbout explains one monitors command in its --help.
var monitorAbout = map[kybflow.MonitorAction]string{
	kybflow.MonitorCreate: `
Creates the monitor MONITOR_ID, which looks IDENTIFIER up (an organization
number of --country, or a DUNS number with --identifier-type duns) with the
lookup flags below, every --every DURATION (whole seconds, at least 1s; the
first run one period after the monitor is created) or on --cron EXPR (6 fields,
seconds first: '0 0 6 * * MON' is 06:00 every Monday) in --time-zone (UTC
without). --until ends it: no run after that time.`,
	kybflow.MonitorUpdate: `
Changes what the flags give: the schedule (--every or --cron), --until,
--correlation-id, --metadata; with IDENTIFIER, the lookup, replaced whole by
the one the lookup flags describe (their defaults included).`,
	kybflow.MonitorPause:  "\nPauses the monitor MONITOR_ID: no runs until it is resumed.",
	kybflow.MonitorResume: "\nResumes the paused monitor MONITOR_ID: it runs again, on its schedule.",
	kybflow.MonitorDelete: "\nDeletes the monitor MONITOR_ID: no more runs. Its runs' lookups are kept;\nerase them as lookups (amlctl erase), or with --erase-history." + eraseHistoryAbout,
}

const monitorIdempotency = `

The command is published with Nats-Msg-Id <monitorKey>.monitor.<action>.<id>,
<id> random unless --command-id gives it: run the same command again with the
same --command-id (within the worker's DUPLICATE_WINDOW) when you do not know
whether the first run stored it, and JetStream keeps one.`

func (a *app) runMonitors(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usagef("want a command: create, update, pause, resume, delete, list or show")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(a.stdout, monitorsUsage)
		return errHelpShown
	case "list":
		return a.runMonitorsList(ctx, args[1:])
	case "show":
		return a.runMonitorsShow(ctx, args[1:])
	}
	action := kybflow.MonitorAction(args[0])
	if _, ok := monitorAbout[action]; !ok {
		return usagef("unknown command %q: want create, update, pause, resume, delete, list or show", args[0])
	}
	return a.runMonitor(ctx, action, args[1:])
}

// monitorFlags is the command line of one monitors command.
type monitorFlags struct {
	conn                               natsSettings
	lookup                             lookupFlags
	every, cron, timeZone, until       string
	correlationID, metadata, commandID string
	wait, asJSON                       bool
	timeout                            time.Duration
	eraseHistory                       bool            // delete
	erasure                            erasureSettings // with --erase-history
}

func (a *app) runMonitor(ctx context.Context, action kybflow.MonitorAction, args []string) error {
	var m monitorFlags
	usage := "amlctl monitors " + string(action) + " [flags] MONITOR_ID"
	switch action {
	case kybflow.MonitorCreate:
		usage += " IDENTIFIER"
	case kybflow.MonitorUpdate:
		usage += " [IDENTIFIER]"
	}
	about := monitorAbout[action] + monitorIdempotency
	if action == kybflow.MonitorCreate || action == kybflow.MonitorUpdate {
		about += expandsHelp()
	}
	f := a.newFlags("monitors "+string(action), usage, about)
	if action == kybflow.MonitorCreate || action == kybflow.MonitorUpdate {
		m.lookup.register(f)
		f.String(&m.every, "every", "", "run every `DURATION`, e.g. 24h or 168h (whole seconds, at least 1s)")
		f.String(&m.cron, "cron", "", "run on the cron `EXPR` of 6 fields, seconds first, e.g. '0 0 6 * * MON'")
		f.String(&m.timeZone, "time-zone", "", "the IANA `ZONE` of --cron, e.g. Europe/Oslo (default UTC)")
		f.String(&m.until, "until", "", "no run after this `TIME`: RFC 3339 (2027-03-01T00:00:00Z) or a date (2027-03-01, midnight UTC)")
	}
	f.String(&m.correlationID, "correlation-id", "", "your own reference `ID`, echoed in the monitor's events (and, set by create or update, in every run's)")
	f.String(&m.metadata, "metadata", "", "a `JSON` object echoed like --correlation-id, e.g. '{\"case\":\"77\"}'")
	f.String(&m.commandID, "command-id", "", "the command's own `ID` in its Nats-Msg-Id, [A-Za-z0-9_-]{1,64} (default: random); repeat it to retry without applying twice")
	f.Bool(&m.wait, "wait", false, "wait for the worker's answer (the monitor event) and print it")
	f.Duration(&m.timeout, "timeout", time.Minute, "with --wait: how long to wait for the answer, a `DURATION`")
	f.Bool(&m.asJSON, "json", false, "print JSON only: with --wait the monitor event (a CloudEvent), otherwise the submission")
	if action == kybflow.MonitorDelete {
		f.Bool(&m.eraseHistory, "erase-history", false, "once deleted, erase every run of the monitor (GDPR erasure, as amlctl erase); implies --wait")
	}
	m.conn.register(f)
	if action == kybflow.MonitorDelete {
		m.erasure.register(f)
	}
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	m.wait = m.wait || m.eraseHistory
	req, err := m.request(f, action, pos)
	if err != nil {
		return err
	}
	subjects, err := m.conn.subjects()
	if err != nil {
		return err
	}
	var erasing erasure.Options
	if m.eraseHistory {
		if m.asJSON {
			return usagef("--json does not go with --erase-history")
		}
		if erasing, err = m.erasure.options("monitors delete", &m.conn, false); err != nil {
			return err
		}
	}
	nc, js, err := m.conn.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	c, err := newClient(nc, subjects, m.conn.tenant)
	if err != nil {
		return err
	}
	if m.eraseHistory {
		return a.deleteErasingHistory(ctx, c, js, req, m, erasing)
	}
	return a.sendMonitor(ctx, c, action, req, m)
}

// monitorRequest is a monitors command line as the client's arguments.
type monitorRequest struct {
	monitorID string
	lookup    *kybflow.LookupCommand // with an IDENTIFIER
	schedule  *kybflow.Schedule      // with --every or --cron
	opts      []client.MonitorOption // the rest
}

// request checks the command line and turns it into the client's
// arguments, after checking the command as the worker will (before any
// connection).
func (m *monitorFlags) request(f *flags, action kybflow.MonitorAction, pos []string) (monitorRequest, error) {
	want := map[kybflow.MonitorAction]string{kybflow.MonitorCreate: "MONITOR_ID and IDENTIFIER", kybflow.MonitorUpdate: "MONITOR_ID and at most an IDENTIFIER"}[action]
	if want == "" {
		want = "one MONITOR_ID"
	}
	switch {
	case len(pos) == 0, len(pos) > 2, len(pos) == 2 && action != kybflow.MonitorCreate && action != kybflow.MonitorUpdate,
		len(pos) == 1 && action == kybflow.MonitorCreate:
		return monitorRequest{}, usagef("want %s, got %d arguments", want, len(pos))
	case m.every != "" && m.cron != "":
		return monitorRequest{}, usagef("--every and --cron exclude each other")
	case m.timeZone != "" && m.cron == "":
		return monitorRequest{}, usagef("--time-zone goes with --cron")
	case action == kybflow.MonitorCreate && m.every == "" && m.cron == "":
		return monitorRequest{}, usagef("create needs a schedule: --every DURATION or --cron EXPR")
	case len(pos) == 1 && m.lookup.anySet(f):
		return monitorRequest{}, usagef("the lookup flags replace the monitor's lookup whole: give the IDENTIFIER too")
	case m.wait && m.timeout <= 0:
		return monitorRequest{}, usagef("--timeout must be positive, got %s", m.timeout)
	case m.metadata != "" && !json.Valid([]byte(m.metadata)):
		return monitorRequest{}, usagef("--metadata is not valid JSON: %s", m.metadata)
	}
	if err := m.lookup.check(f); err != nil {
		return monitorRequest{}, err
	}
	cmd := kybflow.MonitorCommand{Action: action, MonitorID: pos[0], CorrelationID: m.correlationID}
	req := monitorRequest{monitorID: pos[0]}
	var opts []client.MonitorOption
	if len(pos) == 2 {
		lookup := m.lookup.command(pos[1])
		raw, err := kybflow.MonitorLookup(lookup)
		if err != nil {
			return monitorRequest{}, err
		}
		cmd.Lookup, req.lookup = raw, &lookup
	}
	if m.every != "" || m.cron != "" {
		cmd.Schedule = &kybflow.Schedule{Every: m.every, Cron: m.cron, TimeZone: m.timeZone}
		req.schedule = cmd.Schedule
	}
	if m.until != "" {
		u, err := parseUntil(m.until)
		if err != nil {
			return monitorRequest{}, err
		}
		cmd.Until = &u
		opts = append(opts, client.Until(u))
	}
	if m.metadata != "" {
		cmd.Metadata = json.RawMessage(m.metadata)
		opts = append(opts, client.WithMetadata(cmd.Metadata))
	}
	if m.correlationID != "" {
		opts = append(opts, client.WithCorrelationID(m.correlationID))
	}
	if m.commandID != "" {
		if !kybflow.ValidTenant(m.commandID) {
			return monitorRequest{}, usagef("--command-id %q: want 1 to 64 of A-Z a-z 0-9 _ -", m.commandID)
		}
		opts = append(opts, client.WithCommandID(m.commandID))
	}
	if action == kybflow.MonitorUpdate && cmd.Lookup == nil && cmd.Schedule == nil && cmd.Until == nil && cmd.CorrelationID == "" && cmd.Metadata == nil {
		return monitorRequest{}, usagef("update changes nothing: give --every or --cron, --until, --correlation-id, --metadata, or an IDENTIFIER")
	}
	if _, err := kybflow.EncodeMonitorCommand(cmd); err != nil {
		return monitorRequest{}, &exitError{code: exitFailure, msg: invalidMonitorMessage(err)}
	}
	req.opts = opts
	return req, nil
}

// parseUntil reads --until: RFC 3339, or a date (midnight UTC).
func parseUntil(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, usagef("--until %q: want an RFC 3339 time (2027-03-01T00:00:00Z) or a date (2027-03-01)", s)
}
