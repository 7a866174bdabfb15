package console

// A lookup's documents: the JSON (shown as a tree) and the PDF reports
// (shown in a frame), read from storage and checked against the sha256 of
// the event that announced them. Only officers and operators open them,
// and each reading is recorded in the audit first: a reading that cannot
// be recorded does not happen.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kybflow/kybflow"
)

// documents opens stored objects (client.DirSource, client.S3Source).
type documents interface {
	Open(ctx context.Context, bucket, key string) (io.ReadCloser, error)
}

// MaxTreeSize is the largest JSON shown as a tree; a larger one is only
// downloaded.
const MaxTreeSize = 16 << 20

// ErrDocumentMismatch is wrapped by the error of a document whose stored
// object is not the one its event describes (another size or sha256).
var ErrDocumentMismatch = errors.New("stored object does not match its artifact")

// artifactOf finds the lookup and artifact a document request names, and
// checks that the user may open it; it answers the request itself when
// not (ok false).
func (s *server) artifactOf(w http.ResponseWriter, r *http.Request) (key string, a kybflow.Artifact, ok bool) {
	u, _ := UserOf(r.Context())
	if !u.Role.Allows(RoleOfficer) {
		s.fail(w, r, http.StatusForbidden, "Your role ("+string(u.Role)+") shows lookups and their events, not their documents.")
		return "", a, false
	}
	key, name := r.PathValue("key"), r.PathValue("name")
	l, found := s.Index.Lookup(key)
	if !found {
		s.fail(w, r, http.StatusNotFound, "The console knows no lookup "+key+".")
		return "", a, false
	}
	if a, found = l.Artifact(name); !found {
		s.fail(w, r, http.StatusNotFound, "Lookup "+key+" has no document "+name+".")
		return "", a, false
	}
	return key, a, true
}

// audit records that the user read document name of lookup key, and
// answers 503 when it cannot (ok false).
func (s *server) audit(w http.ResponseWriter, r *http.Request, key, name string) bool {
	u, _ := UserOf(r.Context())
	err := s.Auditor.Record(r.Context(), Entry{Actor: u, Action: ActionViewDocument, LookupKey: key, Detail: name, At: s.Now().UTC()})
	if err != nil {
		s.Log.Error("console: a document view could not be recorded; refused", "user", u, "lookup", key, "document", name, "err", err)
		s.fail(w, r, http.StatusServiceUnavailable, "The audit record of this view could not be written, so the document is not shown. Try again later.")
		return false
	}
	return true
}

// documentView is the page of a document.
type documentView struct {
	Key      string
	Artifact kybflow.Artifact
	RawURL   string
	PDF      bool
	Tree     *node  // the JSON, when shown as a tree
	TooLarge bool   // the JSON is larger than MaxTreeSize
	Problem  string // why the tree is not shown
}

// document is GET /lookups/{key}/artifacts/{name}: a PDF in a frame, the
// JSON as a collapsible tree.
func (s *server) document(w http.ResponseWriter, r *http.Request) {
	key, a, ok := s.artifactOf(w, r)
	if !ok {
		return
	}
	v := documentView{Key: key, Artifact: a, RawURL: "/lookups/" + url.PathEscape(key) + "/artifacts/" + url.PathEscape(a.Name) + "/raw"}
	title := a.Name + " of " + key
	switch {
	case a.ContentType == kybflow.ContentTypePDF:
		v.PDF = true // the frame's request reads it, and is recorded
	case a.ContentType != kybflow.ContentTypeJSON:
		http.Redirect(w, r, v.RawURL, http.StatusSeeOther)
		return
	case a.Size > MaxTreeSize:
		v.TooLarge = true
	default:
		if !s.audit(w, r, key, a.Name) {
			return
		}
		var b bytes.Buffer
		if err := s.read(r.Context(), a, &b); err != nil {
			s.Log.Error("console: read a document", "lookup", key, "document", a.Name, "err", err)
			if errors.Is(err, ErrDocumentMismatch) {
				s.fail(w, r, http.StatusBadGateway, "The stored "+a.Name+" is not the one the lookup's event describes: it is not shown.")
			} else {
				s.fail(w, r, http.StatusBadGateway, "The "+a.Name+" could not be read from storage.")
			}
			return
		}
		tree, err := decodeTree(b.Bytes())
		if err != nil {
			v.Problem = err.Error()
		}
		v.Tree = tree
	}
	s.render(w, r, http.StatusOK, "document", title, v)
}

// read copies the object of a into w whole, and checks its size and
// sha256.
func (s *server) read(ctx context.Context, a kybflow.Artifact, w io.Writer) error {
	rc, err := s.Documents.Open(ctx, a.Bucket, a.Key)
	if err != nil {
		return fmt.Errorf("open %s/%s: %w", a.Bucket, a.Key, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), io.LimitReader(rc, a.Size+1))
	if err != nil {
		return fmt.Errorf("read %s/%s: %w", a.Bucket, a.Key, err)
	}
	return check(a, n, h)
}

// check compares what was read (n bytes hashed by h) with the artifact.
func check(a kybflow.Artifact, n int64, h hash.Hash) error {
	if n != a.Size {
		return fmt.Errorf("%w: %s/%s has %d bytes or more, the event says %d", ErrDocumentMismatch, a.Bucket, a.Key, n, a.Size)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); sum != a.SHA256 {
		return fmt.Errorf("%w: %s/%s has sha256 %s, the event says %s", ErrDocumentMismatch, a.Bucket, a.Key, sum, a.SHA256)
	}
	return nil
}

// raw is GET /lookups/{key}/artifacts/{name}/raw: the object, streamed
// from storage. Its sha256 is computed on the way and compared at the end;
// the last bytes are held back until then, so that a response whose
// object does not match is cut short (the connection is aborted), and the
// client, told its Content-Length, never takes it for whole.
func (s *server) raw(w http.ResponseWriter, r *http.Request) {
	key, a, ok := s.artifactOf(w, r)
	if !ok || !s.audit(w, r, key, a.Name) {
		return
	}
	rc, err := s.Documents.Open(r.Context(), a.Bucket, a.Key)
	if err != nil {
		s.Log.Error("console: open a document", "lookup", key, "document", a.Name, "err", err)
		s.fail(w, r, http.StatusBadGateway, "The "+a.Name+" could not be read from storage.")
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Security-Policy", documentCSP)
	h.Set("X-Frame-Options", "SAMEORIGIN")
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.FormatInt(a.Size, 10))
	disposition := "attachment"
	if ct == kybflow.ContentTypePDF {
		disposition = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": fileName(key, a)}))

	hw := &holdback{w: w}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(hw, sum), io.LimitReader(rc, a.Size+1))
	if err == nil {
		err = check(a, n, sum)
	}
	if err == nil {
		_, err = hw.release()
	}
	if err != nil {
		s.Log.Error("console: a document was cut short", "lookup", key, "document", a.Name, "err", err)
		panic(http.ErrAbortHandler) // the client sees a broken response, not a whole one
	}
}

// fileName is the name a document is saved under.
func fileName(key string, a kybflow.Artifact) string {
	name := key + "-" + a.Name
	switch a.ContentType {
	case kybflow.ContentTypePDF:
		name += ".pdf"
	case kybflow.ContentTypeJSON:
		name += ".json"
	}
	out := []byte(name)
	for i, c := range out {
		if c == ':' {
			out[i] = '_'
		}
	}
	return string(out)
}

// holdbackSize is the number of bytes a response holds back until its
// object is checked.
const holdbackSize = 1024

// holdback writes to w all but the last holdbackSize bytes written to it,
// until release writes those.
type holdback struct {
	w    io.Writer
	tail []byte
}

func (h *holdback) Write(p []byte) (int, error) {
	h.tail = append(h.tail, p...)
	if over := len(h.tail) - holdbackSize; over > 0 {
		if _, err := h.w.Write(h.tail[:over]); err != nil {
			return 0, err
		}
		h.tail = append(h.tail[:0], h.tail[over:]...)
	}
	return len(p), nil
}

func (h *holdback) release() (int, error) { return h.w.Write(h.tail) }
