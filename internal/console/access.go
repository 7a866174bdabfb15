package console

// Who may do what: the login and the roles are internal/console/auth's
// (OIDC, or Local on loopback), the audit internal/audit's stream
// (audit.go). The console codes against the small interfaces below.

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/kybflow/kybflow/internal/console/auth"
)

// Role is what a user may do: RoleViewer sees lookups and events,
// RoleOfficer also opens documents, RoleOperator also acts (replays,
// erases, manages monitors). The login's (internal/console/auth).
type Role = auth.Role

// The roles.
const (
	RoleViewer   = auth.RoleViewer
	RoleOfficer  = auth.RoleOfficer
	RoleOperator = auth.RoleOperator
)

// User is the person behind a request.
type User = auth.User

// Authenticator authenticates the console's requests: auth.OIDC, or
// auth.Local on loopback.
type Authenticator interface {
	// Middleware authenticates every request but the login routes;
	// unauthenticated requests are redirected to the login (pages) or get
	// 401 (others). It puts the user in the request's context
	// (WithUser), where handlers find it with UserOf.
	Middleware(next http.Handler) http.Handler
	// Routes adds /login, /callback and /logout.
	Routes(mux *http.ServeMux)
}

// WithUser returns ctx carrying u, for an Authenticator's middleware.
func WithUser(ctx context.Context, u User) context.Context { return auth.WithUser(ctx, u) }

// UserOf is the user an Authenticator's middleware put in ctx.
func UserOf(ctx context.Context) (User, bool) { return auth.UserOf(ctx) }

// LocalUser is the user of every request to a console without a login.
var LocalUser = auth.LocalUser

// Entry is one record of the audit: who did what, to which lookup, when
// and why.
type Entry struct {
	Actor     User
	Action    string
	LookupKey string
	// Detail is what the action read, e.g. the artifact of a document
	// view (json, report:<type>).
	Detail string
	Reason string
	At     time.Time
}

// The actions the console records.
const (
	// ActionViewDocument: a document (the JSON or a report) was read from
	// storage for a user.
	ActionViewDocument = "view_document"
)

// Auditor records entries in the audit. Record returns once the entry is
// stored; a document is shown only after that, so a view that cannot be
// recorded is refused.
type Auditor interface {
	Record(ctx context.Context, e Entry) error
}

// LogAuditor records entries in the console's log, for a console on
// loopback without an audit stream (development mode).
type LogAuditor struct{ Log *slog.Logger }

// Record logs e at info.
func (a LogAuditor) Record(_ context.Context, e Entry) error {
	a.Log.Info("audit", "actor", e.Actor, "action", e.Action, "lookup", e.LookupKey, "detail", e.Detail, "reason", e.Reason, "at", e.At)
	return nil
}
