// Package auth is who may use the console and what they may do: the login
// with OpenID Connect (authorization code with PKCE), the roles read from a
// claim of the ID token, the session in an encrypted cookie, and the CSRF
// tokens of the console's forms. Local is the login-free variant for a
// console on loopback.
//
// The console wires it: the middleware of an OIDC (or of Local) puts the
// User in each request's context, handlers read it with UserOf and compare
// roles with Role.Allows or RequireRole, and forms carry CSRFToken and are
// checked with CheckCSRF.
package auth

import (
	"context"
	"log/slog"
	"net/http"
)

// Role is what a user may do. The roles are ordered: each allows what the
// one before it does.
type Role string

// The roles.
const (
	// RoleViewer sees lookups and events, but no documents.
	RoleViewer Role = "viewer"
	// RoleOfficer also opens the documents (JSON and PDF reports).
	RoleOfficer Role = "officer"
	// RoleOperator also acts: replays dead letters, erases lookups,
	// manages monitors, and reads the audit.
	RoleOperator Role = "operator"
)

// Roles are the roles, lowest first.
var Roles = []Role{RoleViewer, RoleOfficer, RoleOperator}

// rank orders the roles; 0 for a string that is no role.
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleOfficer:
		return 2
	case RoleOperator:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether r may do what min may: viewer < officer <
// operator. A string that is no role allows nothing, and nothing allows it.
func (r Role) Allows(min Role) bool { return r.Valid() && min.Valid() && r.rank() >= min.rank() }

// User is the person behind a request.
type User struct {
	Subject string // the ID token's sub: stable, unique at the issuer
	Name    string // for people to read; personal data
	Role    Role
}

// LogValue shows the subject and the role, never the name (personal data).
func (u User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("subject", u.Subject), slog.String("role", string(u.Role)))
}

// LocalUser is every request's user under Local.
var LocalUser = User{Subject: "local", Name: "local operator", Role: RoleOperator}

type ctxKey struct{}

// session is what the middleware puts in a request's context: the user,
// and what its CSRF tokens are made of.
type session struct {
	user User
	id   string    // the session's random id
	csrf *[32]byte // the CSRF key of the middleware
}

func withSession(ctx context.Context, s *session) context.Context {
	return context.WithValue(ctx, ctxKey{}, s)
}

// WithUser returns ctx carrying u (and no session, so no CSRF token): for
// tests of handlers, and for code that acts for a user outside a request.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, ctxKey{}, &session{user: u})
}

// UserOf is the user the middleware authenticated.
func UserOf(ctx context.Context) (User, bool) {
	s, ok := ctx.Value(ctxKey{}).(*session)
	if !ok || s == nil {
		return User{}, false
	}
	return s.user, true
}

func sessionOf(ctx context.Context) (*session, bool) {
	s, ok := ctx.Value(ctxKey{}).(*session)
	return s, ok && s != nil
}

// RequireRole lets through to next the requests whose user's role allows
// min, and answers the others 403 (401 without a user: next is behind no
// middleware).
func RequireRole(min Role, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := UserOf(r.Context())
		switch {
		case !ok:
			http.Error(w, "not logged in", http.StatusUnauthorized)
		case !u.Role.Allows(min):
			writePage(w, http.StatusForbidden, "Not allowed",
				"Your role ("+string(u.Role)+") does not allow this: it needs the role "+string(min)+" or higher.", "")
		default:
			next.ServeHTTP(w, r)
		}
	})
}
