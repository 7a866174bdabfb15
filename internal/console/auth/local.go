package auth

import (
	"crypto/rand"
	"net/http"
	"sync"
)

// Local is the console without a login, for loopback only (development
// mode): every request is LocalUser, an operator. Its CSRF tokens are made
// with a key drawn at first use, so forms still need them and a page of
// another site still cannot post to it. The zero value is ready to use;
// do not copy one after first use.
type Local struct {
	once sync.Once
	key  [32]byte
	sid  string
}

// NewLocal returns a Local.
func NewLocal() *Local { return new(Local) }

func (l *Local) init() {
	l.once.Do(func() {
		rand.Read(l.key[:])
		l.sid = randomToken()
	})
}

// Middleware puts LocalUser in every request's context.
func (l *Local) Middleware(next http.Handler) http.Handler {
	l.init()
	s := &session{user: LocalUser, id: l.sid, csrf: &l.key}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withSession(r.Context(), s)))
	})
}

// Routes adds /login and /logout, which only go home: there is no login.
func (l *Local) Routes(mux *http.ServeMux) {
	home := func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusSeeOther) }
	mux.HandleFunc("GET "+LoginPath, home)
	mux.HandleFunc("POST "+LogoutPath, home)
}
