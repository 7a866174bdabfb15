package console

// The dead letters (internal/deadletters): list them, show one, replay it
// as it is or corrected, purge them. An operator's only: a command holds
// personal data. The console replays only a command kybflow.ParseCommand
// takes (amlctl also replays one the worker will fail): a page shows the
// error to correct instead.

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/audit"
	"github.com/kybflow/kybflow/internal/console/auth"
	"github.com/kybflow/kybflow/internal/deadletters"
)

// deadLetterRow is a dead letter as the list shows it.
type deadLetterRow struct {
	Seq       uint64
	Time      time.Time
	Reason    string
	Subject   string
	LookupID  string // "" when its body names none the worker can read
	Size      int64
	Truncated bool
}

func rowOf(d deadletters.DeadLetter) deadLetterRow {
	id, _ := kybflow.LookupIDOf(d.Data)
	return deadLetterRow{Seq: d.Seq, Time: d.Time, Reason: d.Reason(), Subject: d.Subject(), LookupID: id, Size: d.Size(), Truncated: d.Truncated()}
}

type deadLettersView struct {
	Stream  string
	Rows    []deadLetterRow
	Problem string // why the stream could not be read
}

// openDeadLetters opens the stream, or answers the request (ok false).
func (s *server) openDeadLetters(w http.ResponseWriter, r *http.Request) (*deadletters.Stream, bool) {
	dl, err := deadletters.Open(r.Context(), s.Deployment.js, s.Deployment.subjects)
	if err != nil {
		s.fail(w, r, http.StatusServiceUnavailable, missing(s.Deployment.subjects.DeadLetterStream(), err))
		return nil, false
	}
	return dl, true
}

// deadLetters is GET /deadletters: every dead letter, newest first.
func (s *server) deadLetters(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.operator(w, r); !ok {
		return
	}
	dl, ok := s.openDeadLetters(w, r)
	if !ok {
		return
	}
	v := deadLettersView{Stream: dl.Name()}
	all, err := dl.List(r.Context())
	if err != nil {
		v.Problem = err.Error()
	}
	for _, d := range slices.Backward(all) {
		v.Rows = append(v.Rows, rowOf(d))
	}
	s.render(w, r, http.StatusOK, "deadletters", "Dead letters", v)
}

// deadLetterView is one dead letter's page, with its replay forms.
type deadLetterView struct {
	deadLetterRow
	Stream     string
	Origin     string // the stream and sequence it was read from
	Headers    []fact
	Body       string // pretty-printed when it is JSON
	Truncation string
	Edited     string // the body in the editor: the one posted, or Body
	Problem    string // why the replay was refused
	// ReplayReason is the reason typed in the form (for the audit), kept
	// on a refusal; Reason (the row's) is why the command was
	// dead-lettered.
	ReplayReason string
	CSRF         string
}

// getDeadLetter reads the dead letter of the path's {seq}, or answers the
// request (ok false).
func (s *server) getDeadLetter(w http.ResponseWriter, r *http.Request, dl *deadletters.Stream) (deadletters.DeadLetter, bool) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		s.fail(w, r, http.StatusNotFound, "There is no dead letter "+r.PathValue("seq")+".")
		return deadletters.DeadLetter{}, false
	}
	d, err := dl.Get(r.Context(), seq)
	switch {
	case errors.Is(err, deadletters.ErrNotFound), errors.Is(err, deadletters.ErrNotDeadLetter):
		s.fail(w, r, http.StatusNotFound, "There is no dead letter "+strconv.FormatUint(seq, 10)+" (replayed or purged already?).")
		return d, false
	case err != nil:
		s.fail(w, r, http.StatusBadGateway, err.Error())
		return d, false
	}
	return d, true
}

func (s *server) deadLetterView(r *http.Request, dl *deadletters.Stream, d deadletters.DeadLetter) deadLetterView {
	v := deadLetterView{deadLetterRow: rowOf(d), Stream: dl.Name(), Body: pretty(d.Data), CSRF: auth.CSRFToken(r)}
	if stream, seq := d.Origin(); stream != "" {
		v.Origin = stream + " " + strconv.FormatUint(seq, 10)
	}
	for name, values := range d.Header {
		for _, value := range values {
			v.Headers = append(v.Headers, fact{name, value})
		}
	}
	slices.SortFunc(v.Headers, func(a, b fact) int { return strings.Compare(a.Name, b.Name) })
	if d.Truncated() {
		v.Truncation = d.Truncation()
	}
	v.Edited = v.Body
	return v
}

// pretty is b indented when it is JSON, else b as it is.
func pretty(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// deadLetter is GET /deadletters/{seq}: its headers and body, and the
// forms that replay it.
func (s *server) deadLetter(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.operator(w, r); !ok {
		return
	}
	dl, ok := s.openDeadLetters(w, r)
	if !ok {
		return
	}
	d, ok := s.getDeadLetter(w, r, dl)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "deadletter", "Dead letter "+strconv.FormatUint(d.Seq, 10), s.deadLetterView(r, dl, d))
}

type replayedView struct {
	deadletters.Replayed
	Seq      uint64
	Key      string
	Edited   bool
	Problem  string // the dead letter could not be deleted
	LookupTo string
}

// replay is POST /deadletters/{seq}/replay: the dead letter's body (or,
// with the field "body", the corrected one), checked by
// kybflow.ParseCommand, recorded in the audit, published as a lookup
// command again, and the dead letter deleted.
func (s *server) replay(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkAction(w, r); !ok {
		return
	}
	dl, ok := s.openDeadLetters(w, r)
	if !ok {
		return
	}
	d, ok := s.getDeadLetter(w, r, dl)
	if !ok {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	var body []byte // nil: as it is
	if _, edited := r.PostForm["body"]; edited {
		body = []byte(strings.TrimSpace(r.PostFormValue("body")))
	}
	refuse := func(problem string) {
		v := s.deadLetterView(r, dl, d)
		v.Problem, v.ReplayReason = problem, reason
		if body != nil {
			v.Edited = string(body)
		}
		s.render(w, r, http.StatusUnprocessableEntity, "deadletter", "Dead letter "+strconv.FormatUint(d.Seq, 10), v)
	}
	toCheck := body
	if toCheck == nil {
		if d.Truncated() {
			refuse("It is " + d.Truncation() + ": it cannot be replayed as it is. Paste the whole command in the editor.")
			return
		}
		toCheck = d.Data
	}
	cmd, err := kybflow.ParseCommand(toCheck)
	if err != nil {
		refuse("The command is not valid, so it is not replayed: " + err.Error())
		return
	}
	if len(reason) > audit.MaxReason {
		refuse("The reason is longer than " + strconv.Itoa(audit.MaxReason) + " bytes.")
		return
	}
	key := cmd.LookupID
	if tenant, known := s.Deployment.subjects.CommandTenant(d.Subject()); known {
		key = kybflow.LookupKey(tenant, cmd.LookupID)
	}
	how := "as it was"
	if body != nil {
		how = "corrected"
	}
	if !s.record(w, r, Entry{Action: audit.ActionReplayDeadLetter, LookupKey: key, Reason: reason,
		Detail: "dead letter " + strconv.FormatUint(d.Seq, 10) + " of " + dl.Name() + ", " + how}) {
		return
	}
	res, err := dl.Replay(r.Context(), d, body)
	v := replayedView{Replayed: res, Seq: d.Seq, Key: key, Edited: body != nil, LookupTo: "/lookups/" + url.PathEscape(key)}
	switch {
	case errors.Is(err, deadletters.ErrNotDeleted):
		v.Problem = err.Error()
	case err != nil:
		s.Log.Error("console: replay a dead letter", "seq", d.Seq, "err", err)
		refuse("It could not be replayed: " + err.Error())
		return
	}
	s.render(w, r, http.StatusOK, "replayed", "Dead letter "+strconv.FormatUint(d.Seq, 10)+" replayed", v)
}

type purgeView struct {
	Stream string
	Rows   []deadLetterRow
	CSRF   string
}

// purgeConfirm is GET /deadletters/purge: what a purge deletes, and the
// form that confirms it (it names each dead letter, so that one that
// arrives meanwhile is not deleted unseen).
func (s *server) purgeConfirm(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.operator(w, r); !ok {
		return
	}
	dl, ok := s.openDeadLetters(w, r)
	if !ok {
		return
	}
	all, err := dl.List(r.Context())
	if err != nil {
		s.fail(w, r, http.StatusBadGateway, err.Error())
		return
	}
	v := purgeView{Stream: dl.Name(), CSRF: auth.CSRFToken(r)}
	for _, d := range all {
		v.Rows = append(v.Rows, rowOf(d))
	}
	s.render(w, r, http.StatusOK, "purge", "Purge dead letters", v)
}

type purgedView struct {
	Stream           string
	Deleted, Gone    []uint64
	Problem          string
	Requested, Total int
}

// purge is POST /deadletters/purge: deletes (securely) the dead letters
// the form names ("seq", repeated), each recorded in the audit before it
// is deleted; it stops at the first that cannot be.
func (s *server) purge(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.checkAction(w, r); !ok {
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if len(reason) > audit.MaxReason {
		s.fail(w, r, http.StatusUnprocessableEntity, "The reason is longer than "+strconv.Itoa(audit.MaxReason)+" bytes.")
		return
	}
	var seqs []uint64
	for _, v := range r.PostForm["seq"] {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil || seq == 0 {
			s.fail(w, r, http.StatusBadRequest, "The form names a dead letter "+v+" that is none.")
			return
		}
		seqs = append(seqs, seq)
	}
	if len(seqs) == 0 {
		s.fail(w, r, http.StatusBadRequest, "The form names no dead letter to purge.")
		return
	}
	dl, ok := s.openDeadLetters(w, r)
	if !ok {
		return
	}
	v := purgedView{Stream: dl.Name(), Requested: len(seqs)}
	for _, seq := range seqs {
		key := ""
		d, err := dl.Get(r.Context(), seq)
		switch {
		case errors.Is(err, deadletters.ErrNotFound):
			v.Gone = append(v.Gone, seq)
			continue
		case err != nil:
			v.Problem = err.Error()
		default:
			if id, ok := kybflow.LookupIDOf(d.Data); ok {
				key = id
				if tenant, known := s.Deployment.subjects.CommandTenant(d.Subject()); known {
					key = kybflow.LookupKey(tenant, id)
				}
			}
		}
		if v.Problem != "" {
			break
		}
		if err := s.recordErr(r, Entry{Action: audit.ActionPurgeDeadLetter, LookupKey: key, Reason: reason,
			Detail: "dead letter " + strconv.FormatUint(seq, 10) + " of " + dl.Name()}); err != nil {
			v.Problem = "The audit record of dead letter " + strconv.FormatUint(seq, 10) + " could not be written, so it and those after it are not deleted. Try again later."
			break
		}
		deleted, err := dl.Delete(r.Context(), seq)
		if err != nil {
			v.Problem = err.Error()
			break
		}
		if deleted {
			v.Deleted = append(v.Deleted, seq)
		} else {
			v.Gone = append(v.Gone, seq)
		}
	}
	status := http.StatusOK
	if v.Problem != "" {
		status = http.StatusBadGateway
	}
	s.render(w, r, status, "purged", "Dead letters purged", v)
}
