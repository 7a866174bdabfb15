package auth

// CSRF: a form's token is an HMAC of the session's id (so it changes with
// each login and cannot be made without the key), and a POST must also
// come from the console's own origin (Sec-Fetch-Site, or Origin, as
// net/http's CrossOriginProtection checks them).

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
)

// CSRFField is the form field (and CSRFHeader the header, for scripts)
// that carries the CSRF token.
const (
	CSRFField  = "csrf"
	CSRFHeader = "X-CSRF-Token"
)

// ErrCSRF is wrapped by CheckCSRF's errors.
var ErrCSRF = errors.New("CSRF check failed")

// CSRFToken is the CSRF token of r's session, for its forms; "" when r is
// behind no middleware of this package.
func CSRFToken(r *http.Request) string {
	s, ok := sessionOf(r.Context())
	if !ok || s.csrf == nil {
		return ""
	}
	return csrfToken(s.csrf, s.id)
}

func csrfToken(key *[32]byte, sid string) string {
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte("csrf\x00" + sid))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// crossOrigin is the standard library's check of Sec-Fetch-Site and
// Origin; it holds no state of its own (no trusted origin, no bypass).
var crossOrigin = http.NewCrossOriginProtection()

// CheckCSRF checks a state-changing request (any method but GET, HEAD and
// OPTIONS): it must come from the console's own origin, and carry its
// session's token in the form field "csrf" or the header X-CSRF-Token.
// Call it before acting; it parses the form.
func CheckCSRF(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if err := crossOrigin.Check(r); err != nil {
		return fmt.Errorf("%w: %w", ErrCSRF, err)
	}
	s, ok := sessionOf(r.Context())
	if !ok || s.csrf == nil {
		return fmt.Errorf("%w: no session", ErrCSRF)
	}
	got := r.Header.Get(CSRFHeader)
	if got == "" {
		got = r.PostFormValue(CSRFField)
	}
	if got == "" {
		return fmt.Errorf("%w: no token", ErrCSRF)
	}
	if !hmac.Equal([]byte(got), []byte(csrfToken(s.csrf, s.id))) {
		return fmt.Errorf("%w: wrong token", ErrCSRF)
	}
	return nil
}

// RequireCSRF answers 403 to a state-changing request that fails
// CheckCSRF, and passes the others to next.
func RequireCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := CheckCSRF(r); err != nil {
			writePage(w, http.StatusForbidden, "Form expired", "This form could not be checked (it is stale, or came from another site). Reload the page and try again.", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}
