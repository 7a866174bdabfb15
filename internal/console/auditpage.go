package console

// The audit page: the newest entries of the audit stream, of all lookups
// or of one, for operators.

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/audit"
)

// auditLister is an Auditor that can also list its entries (the audit
// stream's; LogAuditor cannot).
type auditLister interface {
	List(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

type auditView struct {
	Lookup  string
	Limit   int
	Entries []audit.Entry
	Problem string
}

// auditPage is GET /audit?lookup=KEY&limit=N: the newest entries, newest
// first.
func (s *server) auditPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.operator(w, r); !ok {
		return
	}
	v := auditView{Lookup: strings.TrimSpace(r.URL.Query().Get("lookup")), Limit: audit.DefaultLimit}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		v.Limit = min(n, audit.MaxLimit)
	}
	if v.Lookup != "" && !kybflow.ValidLookupKey(v.Lookup) {
		s.fail(w, r, http.StatusBadRequest, "That is not a lookup key: a lookupId, or tenant.lookupId.")
		return
	}
	l, ok := s.Auditor.(auditLister)
	if !ok {
		v.Problem = "This console records its audit in its log (it runs without the audit stream): there is nothing to list here."
		s.render(w, r, http.StatusOK, "audit", "Audit", v)
		return
	}
	entries, err := l.List(r.Context(), audit.Filter{LookupKey: v.Lookup, Limit: v.Limit})
	if err != nil {
		s.Log.Error("console: list the audit", "err", err)
		v.Problem = "The audit could not be read: " + err.Error()
	}
	v.Entries = entries
	s.render(w, r, http.StatusOK, "audit", "Audit", v)
}
