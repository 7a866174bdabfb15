package console

// What the console's actions share: the deployment they reach (the
// streams on NATS, the worker's store), and the one order every action
// follows: the role (operator), the CSRF check, the audit record, then the
// act. An action whose record cannot be stored does not happen.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/erasure"
	"github.com/kybflow/kybflow/internal/streams"
)

// deployment is what the console's actions and its health page reach.
type deployment struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	subjects kybflow.Subjects
	storage  blob.Settings
	settings ActionSettings

	mu    sync.Mutex
	store erasure.Store // the worker's store, once opened
}

func (d *deployment) names() streams.Names { return streams.NamesOf(d.subjects) }

// erasureMissing says what the console lacks to erase ("" when nothing).
func (d *deployment) erasureMissing() string {
	switch {
	case d.settings.EventSource == "":
		return "EVENT_SOURCE is not set: give the console the worker's EVENT_SOURCE (the erased event's source)."
	case d.storage.Dir == "" && d.storage.Bucket == "":
		return "S3_BUCKET is not set: give the console the worker's S3_BUCKET (where a lookup's objects are)."
	}
	return ""
}

// erasureStore opens the worker's store the first time (a failure is
// tried again next time), as amlctl erase does: BLOB_DIR must exist (a
// wrong one must not look like a lookup without objects), S3_BUCKET must
// answer (a wrong secret must not leave erasures begun).
func (d *deployment) erasureStore(ctx context.Context) (erasure.Store, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.store != nil {
		return d.store, nil
	}
	st := d.storage
	if st.Dir != "" {
		fi, err := os.Stat(st.Dir)
		if err != nil {
			return nil, fmt.Errorf("BLOB_DIR: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("BLOB_DIR %s is not a directory", st.Dir)
		}
		dir, err := blob.NewDir(st.Dir)
		if err != nil {
			return nil, fmt.Errorf("BLOB_DIR: %w", err)
		}
		d.store = dir
		return dir, nil
	}
	s3, err := blob.NewS3(ctx, st.S3Config())
	if err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT %s, S3_BUCKET %s: %w", st.Endpoint, st.Bucket, err)
	}
	if err := s3.Ping(ctx); err != nil {
		return nil, fmt.Errorf("S3_ENDPOINT %s, S3_BUCKET %s: %w", st.Endpoint, st.Bucket, err)
	}
	d.store = s3
	return s3, nil
}

// Operator reports whether the page's user may act: for the layout's
// links and the pages' forms.
func (v view) Operator() bool { return v.User.Role.Allows(RoleOperator) }

// maxForm bounds an action's form: a dead letter's corrected command is
// the largest field.
const maxForm = 4 << 20

// operator answers 403 unless the user is an operator (ok false).
func (s *server) operator(w http.ResponseWriter, r *http.Request) (User, bool) {
	u, _ := UserOf(r.Context())
	if !u.Role.Allows(RoleOperator) {
		s.fail(w, r, http.StatusForbidden, "Your role ("+string(u.Role)+") does not allow this: it needs the role operator.")
		return u, false
	}
	return u, true
}

// checkAction checks a POST of an action: the role, then the CSRF token
// and the origin (which parses the form). It answers the request itself
// when the action may not go on (ok false).
func (s *server) checkAction(w http.ResponseWriter, r *http.Request) (User, bool) {
	u, ok := s.operator(w, r)
	if !ok {
		return u, false
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := auth.CheckCSRF(r); err != nil {
		s.Log.Warn("console: an action's form failed its CSRF check", "user", u, "path", r.URL.Path, "err", err)
		s.fail(w, r, http.StatusForbidden, "This form could not be checked (it is stale, or came from another site). Reload the page and try again.")
		return u, false
	}
	return u, true
}

// record stores e, the action about to be done, in the audit, and answers
// 503 when it cannot (ok false): then the action is not done.
func (s *server) record(w http.ResponseWriter, r *http.Request, e Entry) bool {
	if err := s.recordErr(r, e); err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, "The audit record of this action could not be written, so nothing was done. Try again later.")
		return false
	}
	return true
}

// recordErr stores e, by the request's user, now; an error (logged) means
// the action must not be done.
func (s *server) recordErr(r *http.Request, e Entry) error {
	e.Actor, _ = UserOf(r.Context())
	e.At = s.Now().UTC()
	err := s.Auditor.Record(r.Context(), e)
	if err != nil {
		s.Log.Error("console: an action could not be recorded; refused", "user", e.Actor, "action", e.Action, "lookup", e.LookupKey, "err", err)
	}
	return err
}

// missing explains a stream or bucket the worker has not made.
func missing(name string, err error) string {
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) {
		return name + " does not exist: the worker makes it when it starts."
	}
	return name + " could not be read: " + err.Error()
}

// actionPages are the templates of the pages below.
var actionPages = []string{
	"deadletters", "deadletter", "purge", "replayed", "purged",
	"erase", "erased", "monitors", "monitor", "monitor_sent", "health", "audit",
}

// actionRoutes adds the pages of dead letters, erasure, monitors, health
// and the audit. Who may see each is the handler's to check: dead letters
// and the audit are an operator's (a command holds personal data), the
// monitors and health everyone's; every POST is an operator's.
func (s *server) actionRoutes(app *http.ServeMux) {
	app.HandleFunc("GET /deadletters", s.deadLetters)
	app.HandleFunc("GET /deadletters/{seq}", s.deadLetter)
	app.HandleFunc("POST /deadletters/{seq}/replay", s.replay)
	app.HandleFunc("GET /deadletters/purge", s.purgeConfirm)
	app.HandleFunc("POST /deadletters/purge", s.purge)
	app.HandleFunc("GET /lookups/{key}/erase", s.eraseConfirm)
	app.HandleFunc("POST /lookups/{key}/erase", s.erase)
	app.HandleFunc("GET /monitors", s.monitors)
	app.HandleFunc("GET /monitors/{key}", s.monitor)
	app.HandleFunc("POST /monitors/{key}/{action}", s.monitorAction)
	app.HandleFunc("GET /health", s.health)
	app.HandleFunc("GET /audit", s.auditPage)
}
