package cli

// amlctl monitors list and show: the monitors' records (bucket
// <PREFIX>_MONITORS, internal/monitors), with each one's next run (read
// from its schedule in <PREFIX>_SCHEDULES) and what its schedule costs.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/monitors"
	"github.com/kybflow/kybflow/internal/streams"
)

const monitorsPlanAbout = `
NEXT RUN: a cron schedule's next slot after now, in its time zone; an every
schedule's next fire as the server announced it with the latest fire
(Nats-Schedule-Next), or, with no fire since the schedule was set (fires are
kept 24h), the schedule's time plus whole intervals. None for a paused or
ended monitor, nor when the next run would come after its until.
SESSIONS/30D: the BankID sessions its schedule costs in 30 days, one per run:
30 days / the interval for every (4.3 for 168h), the cron's slots in the next
30 days (in its time zone); whatever its status and until. The total counts
the active monitors only.`

const monitorsListAbout = `
Prints one line per monitor, in key order: its monitorId and tenant, status,
schedule, until, the runs completed so far, the latest run (when it was due,
and its lookupId), the next run and what its schedule costs; then, on stderr,
how many there are and what the active ones cost. With AML_TENANT, that
tenant's monitors only; without it, every tenant's. With --json each line is
a JSON object: monitorId, tenant, key, status, schedule, until, createdAt,
updatedAt, runs, lastRun {lookupId, at}, nextRun, sessionsPerMonth.
` + monitorsPlanAbout

const monitorsShowAbout = `
Prints the monitor MONITOR_ID (of AML_TENANT; without it a monitorId, or
tenant.monitorId): what list prints, and the lookup each run makes (type,
country, identifier, expands, reports; never its correlationId or metadata),
and its latest runs (at most 8: lookupId, when it was due, its JSON's key).
With --json, one JSON object: list's, with lookup and recent.
` + monitorsPlanAbout

// monitorsReader reads the monitors of one deployment as of now.
type monitorsReader struct {
	subjects  kybflow.Subjects
	store     *monitors.Store
	schedules *monitors.Schedules
	now       time.Time
	costs     map[kybflow.Schedule]float64 // by schedule: monitors share them
}

// openMonitors connects and finds the monitors' bucket and schedules; the
// caller calls the returned func to close the connection.
func openMonitors(ctx context.Context, conn *natsSettings) (*monitorsReader, func(), error) {
	subjects, err := conn.subjects()
	if err != nil {
		return nil, nil, err
	}
	nc, js, err := conn.connect()
	if err != nil {
		return nil, nil, err
	}
	names := streams.NamesOf(subjects)
	kv, err := js.KeyValue(ctx, names.MonitorsBucket())
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		err = fmt.Errorf("%w (bucket %s)", jetstream.ErrStreamNotFound, names.MonitorsBucket())
	}
	if err != nil {
		nc.Close()
		return nil, nil, streamError(subjects, names.MonitorsBucket(), err)
	}
	stream, err := js.Stream(ctx, names.SchedulesStream())
	if err != nil {
		nc.Close()
		return nil, nil, streamError(subjects, names.SchedulesStream(), err)
	}
	return &monitorsReader{subjects: subjects, store: monitors.NewStore(kv), schedules: monitors.NewSchedules(js, stream, names),
		now: time.Now(), costs: map[kybflow.Schedule]float64{}}, nc.Close, nil
}

// runView is a run as list and show print it.
type runView struct {
	LookupID string    `json:"lookupId"`
	At       time.Time `json:"at"`
	JSON     string    `json:"json,omitempty"` // show: the key of its JSON
}

// monitorView is a monitor as list and show print it.
type monitorView struct {
	MonitorID        string                `json:"monitorId"`
	Tenant           string                `json:"tenant,omitempty"`
	Key              string                `json:"key"`
	Status           kybflow.MonitorStatus `json:"status"`
	Schedule         kybflow.Schedule      `json:"schedule"`
	Until            *time.Time            `json:"until,omitempty"`
	CreatedAt        time.Time             `json:"createdAt"`
	UpdatedAt        time.Time             `json:"updatedAt"`
	Runs             int                   `json:"runs"`
	LastRun          *runView              `json:"lastRun,omitempty"`
	NextRun          *time.Time            `json:"nextRun,omitempty"`
	SessionsPerMonth *float64              `json:"sessionsPerMonth,omitempty"` // nil: a schedule this amlctl cannot read
	Lookup           *monitorLookup        `json:"lookup,omitempty"`           // show
	Recent           []runView             `json:"recent,omitempty"`           // show

	noNextRun string // why there is no next run
}

// monitorLookup is what each run looks up, without its correlationId and
// metadata.
type monitorLookup struct {
	Type           kybflow.LookupType     `json:"type"`
	Country        kybflow.Country        `json:"country,omitempty"`
	IdentifierType kybflow.IdentifierType `json:"identifierType,omitempty"`
	Identifier     string                 `json:"identifier"`
	Expands        []string               `json:"expands,omitempty"`
	Reports        []kybflow.ReportType   `json:"reports,omitempty"`
	Language       string                 `json:"language,omitempty"`
}

// view is rec as printed, with its next run and its cost; detail adds
// what show prints.
func (r *monitorsReader) view(ctx context.Context, rec monitors.Record, detail bool) (monitorView, error) {
	tenant, monitorID, _ := kybflow.SplitLookupKey(rec.Key)
	def := rec.Definition
	v := monitorView{MonitorID: monitorID, Tenant: tenant, Key: rec.Key, Status: rec.Status, Schedule: def.Schedule, Until: def.Until,
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, Runs: rec.Runs}
	if last := rec.Last(); last != nil {
		v.LastRun = &runView{LookupID: last.LookupID, At: last.At.UTC()}
	}
	cost, ok := r.costs[def.Schedule]
	if !ok {
		if c, err := monitors.SessionsPerMonth(def.Schedule, r.now); err == nil {
			cost, ok, r.costs[def.Schedule] = c, true, c
		}
	}
	if ok {
		v.SessionsPerMonth = &cost
	}
	var timing monitors.Timing
	if rec.Status == kybflow.MonitorActive {
		var err error
		if timing, err = r.schedules.Timing(ctx, rec.Key); err != nil {
			return v, streamError(r.subjects, streams.NamesOf(r.subjects).SchedulesStream(), err)
		}
	}
	if next, ok := monitors.NextRun(rec, timing, r.now); ok {
		v.NextRun = &next
	} else {
		switch {
		case rec.Status != kybflow.MonitorActive:
			v.noNextRun = string(rec.Status)
		case timing.Set.IsZero():
			v.noNextRun = "no schedule set in " + streams.NamesOf(r.subjects).SchedulesStream() + " (pause and resume it to set it again)"
		default:
			v.noNextRun = "its until comes first: it ends"
		}
	}
	if detail {
		l := def.Lookup
		v.Lookup = &monitorLookup{Type: l.Type, Country: l.Country, IdentifierType: l.IdentifierType, Identifier: l.Identifier,
			Expands: l.Expands, Reports: l.Reports, Language: l.Language}
		for _, run := range rec.Recent {
			v.Recent = append(v.Recent, runView{LookupID: run.LookupID, At: run.At.UTC(), JSON: run.JSON.Key})
		}
	}
	return v, nil
}

func (a *app) runMonitorsList(ctx context.Context, args []string) error {
	var (
		conn   natsSettings
		asJSON bool
	)
	f := a.newFlags("monitors list", "amlctl monitors list [flags]", monitorsListAbout)
	f.Bool(&asJSON, "json", false, "print each monitor as a JSON object on one line")
	conn.register(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q (to see one monitor: amlctl monitors show MONITOR_ID)", pos[0])
	}
	if conn.tenant != "" && !kybflow.ValidTenant(conn.tenant) {
		return usagef("AML_TENANT %q: want 1 to %d of A-Z a-z 0-9 _ -", conn.tenant, kybflow.MaxTenantLength)
	}
	r, closeConn, err := openMonitors(ctx, &conn)
	if err != nil {
		return err
	}
	defer closeConn()
	var views []monitorView
	err = r.store.List(ctx, func(rec monitors.Record) error {
		if tenant, _, _ := kybflow.SplitLookupKey(rec.Key); conn.tenant != "" && tenant != conn.tenant {
			return nil
		}
		v, err := r.view(ctx, rec, false)
		views = append(views, v)
		return err
	})
	if err != nil {
		return explainMissing(r.subjects, streams.NamesOf(r.subjects).MonitorsBucket(), err)
	}
	slices.SortFunc(views, func(a, b monitorView) int { return strings.Compare(a.Key, b.Key) })
	if asJSON {
		return printMonitorsJSON(a.stdout, views)
	}
	bucket := streams.NamesOf(r.subjects).MonitorsBucket()
	if len(views) == 0 {
		fmt.Fprintf(a.stderr, "no monitors in %s\n", bucket)
		return nil
	}
	printMonitors(a.stdout, views)
	active, cost := 0, 0.0
	for _, v := range views {
		if v.Status == kybflow.MonitorActive {
			active++
			if v.SessionsPerMonth != nil {
				cost += *v.SessionsPerMonth
			}
		}
	}
	fmt.Fprintf(a.stderr, "%s in %s, %d active: their schedules cost %s sessions per 30 days\n",
		plural(len(views), "monitor"), bucket, active, sessions(&cost))
	return nil
}

func (a *app) runMonitorsShow(ctx context.Context, args []string) error {
	var (
		conn   natsSettings
		asJSON bool
	)
	f := a.newFlags("monitors show", "amlctl monitors show [flags] MONITOR_ID", monitorsShowAbout)
	f.Bool(&asJSON, "json", false, "print the monitor as one JSON object")
	conn.register(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("want one MONITOR_ID, got %d arguments", len(pos))
	}
	key, err := conn.key(pos[0])
	if err != nil {
		return err
	}
	r, closeConn, err := openMonitors(ctx, &conn)
	if err != nil {
		return err
	}
	defer closeConn()
	rec, _, err := r.store.Get(ctx, key)
	if errors.Is(err, monitors.ErrNotFound) {
		return fmt.Errorf("no monitor %s in %s (deleted? see amlctl monitors list)", key, streams.NamesOf(r.subjects).MonitorsBucket())
	}
	if err != nil {
		return err
	}
	v, err := r.view(ctx, rec, true)
	if err != nil {
		return err
	}
	if asJSON {
		return printMonitorsJSON(a.stdout, []monitorView{v})
	}
	printMonitor(a.stdout, v)
	return nil
}
