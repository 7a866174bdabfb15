package console

// A lookup's erasure (internal/erasure, as amlctl erase runs it), from a
// confirmation page with a written reason, by an operator; the reason is
// recorded in the audit before anything is erased.

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/erasure"
)

// eraseView is the confirmation page.
type eraseView struct {
	Key     string
	Known   bool   // the index knows the lookup
	State   string // as the index has it
	Waiting bool   // it has not ended: erasing it needs force
	Missing string // what the console lacks to erase, or ""
	Problem string // why the last attempt was refused
	Reason  string
	Force   bool
	CSRF    string
}

// eraseTarget is the view of the path's lookup key, or answers the
// request (ok false).
func (s *server) eraseTarget(w http.ResponseWriter, r *http.Request) (eraseView, bool) {
	key := r.PathValue("key")
	if !kybflow.ValidLookupKey(key) {
		s.fail(w, r, http.StatusNotFound, "That is not a lookup key.")
		return eraseView{}, false
	}
	v := eraseView{Key: key, Missing: s.Deployment.erasureMissing(), CSRF: auth.CSRFToken(r)}
	if l, ok := s.Index.Lookup(key); ok {
		v.Known, v.State, v.Waiting = true, l.State.String(), l.State == StateWaiting
	}
	return v, true
}

// eraseConfirm is GET /lookups/{key}/erase: what an erasure removes, and
// the form with its reason.
func (s *server) eraseConfirm(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.operator(w, r); !ok {
		return
	}
	v, ok := s.eraseTarget(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "erase", "Erase lookup "+v.Key, v)
}

// erasedView is what an erasure did.
type erasedView struct {
	*erasure.Result
	Bucket  string
	Problem string // the erasure failed after it began
}

// erase is POST /lookups/{key}/erase: the reason (required) recorded in
// the audit, then the erasure; the page says what it removed.
func (s *server) erase(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkAction(w, r); !ok {
		return
	}
	v, ok := s.eraseTarget(w, r)
	if !ok {
		return
	}
	v.Reason, v.Force = strings.TrimSpace(r.PostFormValue("reason")), r.PostFormValue("force") == "yes"
	refuse := func(status int, problem string) {
		v.Problem = problem
		s.render(w, r, status, "erase", "Erase lookup "+v.Key, v)
	}
	switch {
	case v.Missing != "":
		refuse(http.StatusServiceUnavailable, "The console cannot erase: "+v.Missing)
		return
	case v.Reason == "":
		refuse(http.StatusUnprocessableEntity, "Write why the lookup is erased: the reason is recorded in the audit.")
		return
	case len(v.Reason) > audit.MaxReason:
		refuse(http.StatusUnprocessableEntity, "The reason is longer than "+strconv.Itoa(audit.MaxReason)+" bytes.")
		return
	case v.Waiting && !v.Force:
		refuse(http.StatusConflict, "The lookup has not ended: a worker handling it would store results and publish events again after the erasure. Wait until it ends, or erase it anyway.")
		return
	}
	d := s.Deployment
	store, err := d.erasureStore(r.Context())
	if err != nil {
		s.Log.Error("console: the store of erasures", "err", err)
		refuse(http.StatusServiceUnavailable, "The worker's store could not be reached, so nothing was erased: "+err.Error())
		return
	}
	e, err := erasure.New(r.Context(), d.js, store, erasure.Options{Subjects: d.subjects, Keys: kybflow.ObjectKeys{Prefix: d.settings.KeyPrefix},
		Source: d.settings.EventSource, Force: v.Force, Now: s.Now})
	if err != nil {
		refuse(http.StatusServiceUnavailable, "Nothing was erased: "+err.Error())
		return
	}
	detail := ""
	if v.Force {
		detail = "force: erased before it ended"
	}
	if !s.record(w, r, Entry{Action: audit.ActionErase, LookupKey: v.Key, Reason: v.Reason, Detail: detail}) {
		return
	}
	res, err := e.Erase(r.Context(), v.Key)
	switch {
	case errors.Is(err, erasure.ErrNotEnded):
		refuse(http.StatusConflict, "Nothing was erased: the lookup has not ended (its record says "+string(res.State)+"). Wait until it ends, or erase it anyway.")
		return
	case err != nil && !res.Tombstoned:
		s.Log.Error("console: erase", "lookup", v.Key, "err", err)
		refuse(http.StatusBadGateway, "Nothing was erased: "+err.Error())
		return
	}
	out := erasedView{Result: res, Bucket: store.Bucket()}
	status := http.StatusOK
	if err != nil {
		s.Log.Error("console: erase", "lookup", v.Key, "err", err)
		out.Problem = "The erasure is begun but not finished: " + err.Error() + ". Erase the lookup again to finish it."
		status = http.StatusBadGateway
	}
	s.render(w, r, status, "erased", "Lookup "+v.Key+" erased", out)
}
