package console

// The monitors (internal/monitors, bucket <PREFIX>_MONITORS): each one's
// status, schedule, next run and cost, as amlctl monitors list computes
// them; a monitor's latest runs and what each changed, block by block
// (its changed event); and pause, resume and delete, sent as monitor
// commands through the public client, as amlctl sends them. Everyone sees
// the monitors (the identifier a run looks up: officers and up); only
// operators act.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/monitors"
)

// monitorRow is a monitor as the list shows it.
type monitorRow struct {
	Key, MonitorID, Tenant string
	Status                 kybflow.MonitorStatus
	Schedule               string
	Until                  *time.Time
	Runs                   int
	LastRun                *monitors.Run
	NextRun                time.Time
	NoNextRun              string // why there is none
	Sessions               string // per 30 days; "?" when unknown
	sessions               float64
}

// monitorsReader reads the monitors of the deployment.
type monitorsReader struct {
	store     *monitors.Store
	schedules *monitors.Schedules
	now       time.Time
}

// openMonitors finds the bucket and the schedules, or answers the request
// (ok false).
func (s *server) openMonitors(w http.ResponseWriter, r *http.Request) (*monitorsReader, bool) {
	d := s.Deployment
	names := d.names()
	kv, err := d.js.KeyValue(r.Context(), names.MonitorsBucket())
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, missing(names.MonitorsBucket(), err))
		return nil, false
	}
	stream, err := d.js.Stream(r.Context(), names.SchedulesStream())
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, missing(names.SchedulesStream(), err))
		return nil, false
	}
	return &monitorsReader{store: monitors.NewStore(kv), schedules: monitors.NewSchedules(d.js, stream, names), now: s.Now()}, true
}

// row is rec with its next run and its cost.
func (m *monitorsReader) row(ctx context.Context, rec monitors.Record) monitorRow {
	tenant, id, _ := kybflow.SplitLookupKey(rec.Key)
	def := rec.Definition
	row := monitorRow{Key: rec.Key, MonitorID: id, Tenant: tenant, Status: rec.Status, Schedule: scheduleText(def.Schedule),
		Until: def.Until, Runs: rec.Runs, LastRun: rec.Last(), Sessions: "?"}
	if n, err := monitors.SessionsPerMonth(def.Schedule, m.now); err == nil {
		row.sessions, row.Sessions = n, strconv.FormatFloat(n, 'f', -1, 64)
		if n != float64(int64(n)) {
			row.Sessions = strconv.FormatFloat(n, 'f', 1, 64)
		}
	}
	var timing monitors.Timing
	if rec.Status == kybflow.MonitorActive {
		var err error
		if timing, err = m.schedules.Timing(ctx, rec.Key); err != nil {
			row.NoNextRun = "its schedule could not be read: " + err.Error()
			return row
		}
	}
	if next, ok := monitors.NextRun(rec, timing, m.now); ok {
		row.NextRun = next
		return row
	}
	switch {
	case rec.Status != kybflow.MonitorActive:
		row.NoNextRun = "none: " + string(rec.Status)
	case timing.Set.IsZero():
		row.NoNextRun = "none: no schedule is set (pause and resume it to set it again)"
	default:
		row.NoNextRun = "none: its until comes first, and it ends"
	}
	return row
}

// scheduleText is a schedule on one line: every 168h, cron 0 0 6 * * MON
// Europe/Oslo.
func scheduleText(s kybflow.Schedule) string {
	if s.Every != "" {
		return "every " + s.Every
	}
	zone := s.TimeZone
	if zone == "" {
		zone = "UTC"
	}
	return "cron " + s.Cron + " " + zone
}

type monitorsView struct {
	Rows           []monitorRow
	Active         int
	ActiveSessions string
	Problem        string
}

// monitors is GET /monitors: every monitor, in key order.
func (s *server) monitors(w http.ResponseWriter, r *http.Request) {
	m, ok := s.openMonitors(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	var v monitorsView
	total := 0.0
	err := m.store.List(ctx, func(rec monitors.Record) error {
		row := m.row(ctx, rec)
		if rec.Status == kybflow.MonitorActive {
			v.Active++
			total += row.sessions
		}
		v.Rows = append(v.Rows, row)
		return nil
	})
	if err != nil {
		v.Problem = err.Error()
	}
	slices.SortFunc(v.Rows, func(a, b monitorRow) int { return strings.Compare(a.Key, b.Key) })
	v.ActiveSessions = strconv.FormatFloat(total, 'f', 1, 64)
	s.render(w, r, http.StatusOK, "monitors", "Monitors", v)
}

// runRow is one of a monitor's latest runs, with what it changed.
type runRow struct {
	LookupID, Key string
	At            time.Time
	State         string // as the index has it; "" when it does not know it
	Blocks        []kybflow.BlockChange
	Changed       bool   // the run has a changed event
	Problem       string // its changed event could not be read
}

type monitorView struct {
	monitorRow
	Lookup     kybflow.LookupCommand
	Identifier bool // the user may see what the runs look up
	CreatedAt  time.Time
	UpdatedAt  time.Time
	Recent     []runRow // newest first
	CSRF       string
}

// monitor is GET /monitors/{key}: the monitor, its latest runs and what
// each changed, and (operators) the forms that pause, resume or delete it.
func (s *server) monitor(w http.ResponseWriter, r *http.Request) {
	m, ok := s.openMonitors(w, r)
	if !ok {
		return
	}
	key := r.PathValue("key")
	rec, _, err := m.store.Get(r.Context(), key)
	switch {
	case errors.Is(err, monitors.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "There is no monitor "+key+" (deleted?).")
		return
	case err != nil:
		s.fail(w, r, http.StatusBadGateway, err.Error())
		return
	}
	u, _ := UserOf(r.Context())
	v := monitorView{monitorRow: m.row(r.Context(), rec), Lookup: rec.Definition.Lookup, Identifier: u.Role.Allows(RoleOfficer),
		CreatedAt: rec.CreatedAt, UpdatedAt: rec.UpdatedAt, CSRF: auth.CSRFToken(r)}
	ctx := r.Context()
	events, err := s.Deployment.js.Stream(ctx, s.Deployment.subjects.EventsStream())
	for i := len(rec.Recent) - 1; i >= 0; i-- {
		run := rec.Recent[i]
		row := runRow{LookupID: run.LookupID, Key: kybflow.LookupKey(v.Tenant, run.LookupID), At: run.At}
		if l, ok := s.Index.Lookup(row.Key); ok {
			row.State = l.State.String()
		}
		if err != nil {
			row.Problem = missing(s.Deployment.subjects.EventsStream(), err)
		} else {
			row.Blocks, row.Changed, row.Problem = s.changed(ctx, events, row.Key)
		}
		v.Recent = append(v.Recent, row)
	}
	s.render(w, r, http.StatusOK, "monitor", "Monitor "+key, v)
}

// changed reads the changed event of the run key: its blocks, whether
// there is one, and why it could not be read.
func (s *server) changed(ctx context.Context, events jetstream.Stream, key string) ([]kybflow.BlockChange, bool, string) {
	m, err := events.GetLastMsgForSubject(ctx, s.Deployment.subjects.Event(key, kybflow.KindChanged))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, false, ""
	}
	if err != nil {
		return nil, false, err.Error()
	}
	ev, err := kybflow.DecodeEvent(m.Data)
	if err != nil {
		return nil, false, err.Error()
	}
	d, ok := ev.Changed()
	if !ok {
		return nil, false, "not a changed event"
	}
	return d.Blocks, true, ""
}

// monitorActions are the actions a form may post, with their audit action.
var monitorActions = map[string]struct {
	action kybflow.MonitorAction
	audit  string
}{
	"pause":  {kybflow.MonitorPause, audit.ActionMonitorPause},
	"resume": {kybflow.MonitorResume, audit.ActionMonitorResume},
	"delete": {kybflow.MonitorDelete, audit.ActionMonitorDelete},
}

// monitorAnswerWait bounds how long an action waits for the worker's
// answer before the page says it was sent.
const monitorAnswerWait = 10 * time.Second

type monitorSentView struct {
	Key      string
	Action   kybflow.MonitorAction
	Sequence uint64
	Answered bool
	Applied  bool
	Status   kybflow.MonitorStatus
	Code     kybflow.FailureCode
	Reason   string
	Problem  string // the wait failed
}

// monitorAction is POST /monitors/{key}/{pause,resume,delete}: recorded in
// the audit, sent as a monitor command, and its answer waited for a while.
func (s *server) monitorAction(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkAction(w, r); !ok {
		return
	}
	act, ok := monitorActions[r.PathValue("action")]
	key := r.PathValue("key")
	tenant, monitorID, valid := kybflow.SplitLookupKey(key)
	if !ok || !valid || !kybflow.ValidMonitorID(monitorID) {
		s.fail(w, r, http.StatusNotFound, "There is no such page.")
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) > audit.MaxReason {
		s.fail(w, r, http.StatusUnprocessableEntity, "The reason is longer than "+strconv.Itoa(audit.MaxReason)+" bytes.")
		return
	}
	if act.action == kybflow.MonitorDelete && r.PostFormValue("confirm") != "yes" {
		s.fail(w, r, http.StatusUnprocessableEntity, "Tick the box that confirms the deletion: a deleted monitor runs no more.")
		return
	}
	m, ok := s.openMonitors(w, r)
	if !ok {
		return
	}
	if _, _, err := m.store.Get(r.Context(), key); errors.Is(err, monitors.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "There is no monitor "+key+" (deleted?).")
		return
	}
	d := s.Deployment
	c, err := client.New(d.nc, client.WithSubjectPrefix(d.subjects.Prefix), client.WithTenant(tenant))
	if err != nil {
		s.fail(w, r, http.StatusInternalServerError, err.Error())
		return
	}
	if !s.record(w, r, Entry{Action: act.audit, Detail: "monitor " + key, Reason: reason}) {
		return
	}
	var sub client.MonitorSubmission
	switch act.action {
	case kybflow.MonitorPause:
		sub, err = c.PauseMonitor(r.Context(), monitorID)
	case kybflow.MonitorResume:
		sub, err = c.ResumeMonitor(r.Context(), monitorID)
	default:
		sub, err = c.DeleteMonitor(r.Context(), monitorID)
	}
	if err != nil {
		s.Log.Error("console: send a monitor command", "monitor", key, "action", act.action, "err", err)
		s.fail(w, r, http.StatusBadGateway, fmt.Sprintf("The %s of monitor %s could not be sent: %v", act.action, key, err))
		return
	}
	v := monitorSentView{Key: key, Action: act.action, Sequence: sub.Sequence}
	ctx, cancel := context.WithTimeout(r.Context(), monitorAnswerWait)
	defer cancel()
	res, err := c.WaitMonitor(ctx, sub)
	switch {
	case err == nil:
		v.Answered, v.Applied, v.Status, v.Code, v.Reason = true, res.Applied(), res.Monitor.Status, res.Monitor.Code, res.Monitor.Reason
	case !errors.Is(err, context.DeadlineExceeded):
		v.Problem = err.Error()
	}
	s.render(w, r, http.StatusOK, "monitor_sent", "Monitor "+key+": "+string(act.action), v)
}
