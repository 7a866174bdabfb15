package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/kybflow/kybflow/internal/amlapi"
)

// entityGate answers for an entity that cannot be downloaded at now and
// returns false; for a READY entity it returns true. Not ready yet: 409.
// Failed: 404. Expired: 410.
func (s *Sandbox) entityGate(w http.ResponseWriter, sess *session, i int, name string, now time.Time) bool {
	st, _ := sess.tl.entity(i, now)
	switch st {
	case amlapi.EntityReady:
		return true
	case amlapi.EntityExpired:
		s.writeError(w, http.StatusGone, amlapi.CodeGone, fmt.Sprintf("the %s of session %s has expired", name, sess.id))
	case amlapi.EntityFailed:
		s.writeError(w, http.StatusNotFound, amlapi.CodeNotFound, fmt.Sprintf("session %s failed: it has no %s", sess.id, name))
	default:
		s.writeError(w, http.StatusConflict, amlapi.CodeNotReady, fmt.Sprintf("the %s of session %s is not ready (%s)", name, sess.id, st))
	}
	return false
}

// statusWriter remembers the status and counts the body bytes.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// handleJSON is GET of a session's JSON link.
func (s *Sandbox) handleJSON(k amlapi.Kind) apiHandler {
	return func(rw http.ResponseWriter, r *http.Request, tok token) {
		w := &statusWriter{ResponseWriter: rw}
		id := r.PathValue("id")
		defer func() { s.insp.download(id, "json", w.status, w.n) }()
		now := time.Now()
		sess, ok := s.lookup(w, k, id, tok, now)
		if !ok || !s.entityGate(w, sess, 0, "json", now) {
			return
		}
		body, err := s.jsonDocument(sess, s.baseURL(r))
		if err != nil {
			s.log.Error("sandbox: render json", "session", sess.id, "error", err)
			s.writeError(w, http.StatusInternalServerError, amlapi.CodeInternal, "cannot render the json")
			return
		}
		w.Header().Set("Content-Type", amlapi.ContentTypeJSON)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body) // the status is sent: nothing to do if the client went away
		}
	}
}

// handleReport is GET of a session's report link.
func (s *Sandbox) handleReport(k amlapi.Kind) apiHandler {
	return func(rw http.ResponseWriter, r *http.Request, tok token) {
		w := &statusWriter{ResponseWriter: rw}
		id, rt := r.PathValue("id"), amlapi.ReportType(r.PathValue("report"))
		defer func() { s.insp.download(id, "report/"+string(rt), w.status, w.n) }()
		now := time.Now()
		sess, ok := s.lookup(w, k, id, tok, now)
		if !ok {
			return
		}
		i := sess.reportIndex(rt)
		if i < 0 {
			s.writeError(w, http.StatusNotFound, amlapi.CodeNotFound, fmt.Sprintf("session %s has no report %q", sess.id, rt))
			return
		}
		if !s.entityGate(w, sess, i, "report "+string(rt), now) {
			return
		}
		size, err := s.reportSize(sess, rt)
		if err != nil {
			s.log.Error("sandbox: size report", "session", sess.id, "report", string(rt), "error", err)
			s.writeError(w, http.StatusInternalServerError, amlapi.CodeInternal, "cannot render the report")
			return
		}
		w.Header().Set("Content-Type", amlapi.ContentTypePDF)
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		w.Header().Set("Content-Disposition", fmt.Sprintf(`inline; filename="%s-%s.pdf"`, rt, sess.id))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodHead {
			return
		}
		n, err := s.writeReport(w, sess, rt)
		switch {
		case err != nil:
			s.log.Info("sandbox: report download interrupted", "session", sess.id, "report", string(rt), "error", err)
		case n != size:
			s.log.Error("sandbox: report size differs from its Content-Length (bug)", "session", sess.id, "report", string(rt),
				"written", n, "content_length", size)
		}
	}
}

// reportSize is the exact size of a report, computed once per session and
// report by generating it into a counter (generation is deterministic).
func (s *Sandbox) reportSize(sess *session, rt amlapi.ReportType) (int64, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if n, ok := sess.sizes[rt]; ok {
		return n, nil
	}
	n, err := s.writeReport(io.Discard, sess, rt)
	if err != nil {
		return 0, err
	}
	if sess.sizes == nil {
		sess.sizes = make(map[amlapi.ReportType]int64)
	}
	sess.sizes[rt] = n
	return n, nil
}

// jsonDocument renders the JSON of a session; base is the API's base URL
// for the report links.
func (s *Sandbox) jsonDocument(sess *session, base string) ([]byte, error) {
	o := orgOf(sess)
	var doc any
	if sess.kind == amlapi.KindBeneficial {
		nr, omitted := s.nationalRegistryFields(sess.expands)
		doc = o.beneficialDocument(nr, omitted, s.cfg.NationalRegistry)
	} else {
		links := make(map[amlapi.ReportType]string, len(sess.reports))
		for _, r := range sess.reports {
			links[r] = base + amlapi.ReportLinkPath(sess.kind, sess.id, r)
		}
		od := o.organizationDocument(blocksOf(sess.expands), links)
		if od.Links != nil {
			// Until when the data and reports can be read: the JSON's
			// lifetime, from when it was ready.
			od.Links.Expires = sess.tl.ready[0].Add(sess.tl.life).UTC().Format(time.RFC3339)
		}
		doc = od
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal json of session %s: %w", sess.id, err)
	}
	return append(b, '\n'), nil
}

// nationalRegistryFields splits the requested beneficial owners expands
// into those honoured and those left out for lack of access: citizenship
// and birthplace need National Registry access GRANTED; ssn (or the
// guide's identificationNumber) needs that and SSNAccess.
func (s *Sandbox) nationalRegistryFields(expands []string) (honoured, omitted []string) {
	granted := s.cfg.NationalRegistry == amlapi.AccessGranted
	for _, e := range amlapi.BeneficialExpands {
		if !slices.Contains(expands, e) {
			continue
		}
		ok := granted
		if slices.Contains(amlapi.IdentityNumberExpands, e) {
			ok = granted && s.cfg.SSNAccess
		}
		if ok {
			honoured = append(honoured, e)
		} else {
			omitted = append(omitted, e)
		}
	}
	return honoured, omitted
}
