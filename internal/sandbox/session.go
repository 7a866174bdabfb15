package sandbox

import (
	"sync"
	"time"

	"github.com/kybflow/kybflow/identifier"
	"github.com/kybflow/kybflow/internal/amlapi"
)

// session is one AML session. Its state is never stored: it is computed
// from the timeline on every read (see state), so a session costs no timer
// and no goroutine. All fields are set at create and never change, except
// the cached report sizes.
type session struct {
	id         string
	clientID   string
	kind       amlapi.Kind
	country    amlapi.Country
	identifier string // canonical
	idKind     identifier.Kind
	expands    []string // as validated, deduplicated, in request order
	reports    []amlapi.ReportType
	language   string
	webhook    *amlapi.WebhookSubscription
	behaviour  Behaviour
	sequence   int // changing identifiers: the session's number among its identifier's (1, 2, …); else 0
	failing    bool
	tl         timeline

	mu    sync.Mutex
	sizes map[amlapi.ReportType]int64 // exact PDF sizes, computed once
}

// timeline holds the times a session's state is computed from. Entity 0 is
// the JSON, entity i ≥ 1 is reports[i-1].
type timeline struct {
	created  time.Time
	started  time.Time   // NOT_STARTED before, IN_PROGRESS after
	ready    []time.Time // ready[i]: when entity i becomes READY
	life     time.Duration
	failAt   time.Time // non-zero for a failing session: every entity FAILED from then on
	forgetAt time.Time // 404 from then on
}

// newTimeline lays out the life of a session created at created with n
// reports.
func newTimeline(created time.Time, readyAfter, interval, life, forgetAfter time.Duration, reports int, failing bool) timeline {
	tl := timeline{created: created, life: life}
	tl.started = created.Add(readyAfter / 4)
	t := created.Add(readyAfter)
	tl.ready = append(tl.ready, t)
	for range reports {
		t = t.Add(interval)
		tl.ready = append(tl.ready, t)
	}
	if failing {
		tl.failAt = tl.ready[0]
		tl.forgetAt = tl.failAt.Add(forgetAfter)
	} else {
		tl.forgetAt = tl.ready[len(tl.ready)-1].Add(life + forgetAfter)
	}
	return tl
}

// neverAfter is how long after its creation a BehaviourReportsNever
// session's reports become READY: never, for a test (and still a duration
// time can hold).
const neverAfter = 100 * 365 * 24 * time.Hour

// delayReports moves the reports of a session with behaviour b: for
// BehaviourReportsLate, the first report is READY ReportsLateFactor ×
// readyAfter after the JSON (the others follow at their intervals); for
// BehaviourReportsNever, never. Other behaviours are left alone.
func (tl *timeline) delayReports(b Behaviour, readyAfter time.Duration) {
	if len(tl.ready) < 2 || !tl.failAt.IsZero() {
		return
	}
	switch b {
	case BehaviourReportsLate:
		shift := ReportsLateFactor * readyAfter
		for i := 1; i < len(tl.ready); i++ {
			tl.ready[i] = tl.ready[i].Add(shift)
		}
		tl.forgetAt = tl.forgetAt.Add(shift)
	case BehaviourReportsNever:
		for i := 1; i < len(tl.ready); i++ {
			tl.ready[i] = tl.created.Add(neverAfter)
		}
		tl.forgetAt = tl.created.Add(neverAfter)
	}
}

// unlisted reports whether a guide-shaped answer leaves the reports out
// (the JSON's links.reports names them).
func (s *session) unlisted() bool {
	return s.behaviour == BehaviourReportsLate || s.behaviour == BehaviourReportsNever
}

// last is when the last entity becomes READY: the session is DONE then.
func (tl *timeline) last() time.Time { return tl.ready[len(tl.ready)-1] }

// forgotten reports whether the session no longer exists at now.
func (tl *timeline) forgotten(now time.Time) bool { return !now.Before(tl.forgetAt) }

// entity computes the status of entity i at now, and, when READY, when it
// expires.
func (tl *timeline) entity(i int, now time.Time) (amlapi.EntityStatus, time.Time) {
	if !tl.failAt.IsZero() && !now.Before(tl.failAt) {
		return amlapi.EntityFailed, time.Time{}
	}
	begin := tl.started
	if i > 0 {
		begin = tl.ready[i-1]
	}
	switch expires := tl.ready[i].Add(tl.life); {
	case now.Before(begin):
		return amlapi.EntityNotStarted, time.Time{}
	case now.Before(tl.ready[i]):
		return amlapi.EntityInProgress, time.Time{}
	case now.Before(expires):
		return amlapi.EntityReady, expires
	default:
		return amlapi.EntityExpired, time.Time{}
	}
}

// status is the session status at now.
func (tl *timeline) status(now time.Time) amlapi.SessionStatus {
	switch {
	case !tl.failAt.IsZero() && !now.Before(tl.failAt):
		return amlapi.SessionFailed
	case !now.Before(tl.last()):
		return amlapi.SessionDone
	default:
		return amlapi.SessionInProgress
	}
}

// view is the GET session answer at now; base is the API's base URL.
func (s *session) view(now time.Time, base string) amlapi.Session {
	entity := func(i int, link string) amlapi.Entity {
		st, expires := s.tl.entity(i, now)
		e := amlapi.Entity{Status: st}
		if st == amlapi.EntityReady {
			e.Link = base + link
			exp := amlapi.NewTime(expires.UTC())
			e.Expires = &exp
		}
		return e
	}
	v := amlapi.Session{
		SessionID: s.id,
		Status:    s.tl.status(now),
		Created:   amlapi.NewTime(s.tl.created.UTC()),
		JSONData:  entity(0, amlapi.JSONLinkPath(s.kind, s.id)),
	}
	if len(s.reports) > 0 {
		v.Reports = make(map[amlapi.ReportType]amlapi.Entity, len(s.reports))
		for i, r := range s.reports {
			v.Reports[r] = entity(i+1, amlapi.ReportLinkPath(s.kind, s.id, r))
		}
	}
	return v
}

// guideView is the GET session answer at now in the guides' example shape
// (Config.SessionShape "guide"): a plain status per entity, under jsonData
// and <type>-report, and nothing else: no session status, no links (the
// client downloads from the model's content paths, which serve it). The
// reports of a BehaviourReportsLate or BehaviourReportsNever session are
// not listed at all: only the JSON's links.reports names them.
func (s *session) guideView(now time.Time) map[string]amlapi.EntityStatus {
	st, _ := s.tl.entity(0, now)
	v := map[string]amlapi.EntityStatus{"jsonData": st}
	if s.unlisted() {
		return v
	}
	for i, r := range s.reports {
		st, _ := s.tl.entity(i+1, now)
		v[string(r)+amlapi.GuideReportSuffix] = st
	}
	return v
}

// reportIndex is the entity index of report r, or -1 when the session did
// not request it.
func (s *session) reportIndex(r amlapi.ReportType) int {
	for i, x := range s.reports {
		if x == r {
			return i + 1
		}
	}
	return -1
}

// has reports whether expand e was requested.
func (s *session) has(e string) bool {
	for _, x := range s.expands {
		if x == e {
			return true
		}
	}
	return false
}

// key is the inspection key of the session's identifier.
func (s *session) key() string {
	return string(s.kind) + "/" + string(s.country) + "/" + s.identifier
}
