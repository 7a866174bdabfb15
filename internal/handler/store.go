package handler

// Storing: one result streamed from the API into storage.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/lookups"
)

// store streams one result from the API into storage. For the JSON it
// also reads, from a bounded copy taken while streaming, what the result
// says (inspect.go): its summary, and the requested expands the API left
// out (found; zero for a report).
func (h *Handlers) store(ctx context.Context, rec lookups.Record, name, link string) (art kybflow.Artifact, found inspection, err error) {
	id := rec.Command.Key()
	key, err := h.c.Keys.Key(id, name)
	if err != nil {
		return kybflow.Artifact{}, inspection{}, err
	}
	// Two spans, overlapping as the work does: the download runs from the
	// request until its body is read, while the upload streams it.
	attrs := trace.WithAttributes(AttrLookupID.String(id), AttrArtifact.String(name))
	dctx, dspan := h.tracer.Start(ctx, "download", trace.WithSpanKind(trace.SpanKindClient), attrs)
	dl, err := h.c.API.Download(dctx, link)
	if err != nil {
		endStep(dspan, err)
		return kybflow.Artifact{}, inspection{}, err
	}
	defer dl.Body.Close()
	read := &countingReader{r: dl.Body}
	defer func() {
		dspan.SetAttributes(AttrSize.Int64(read.n))
		endStep(dspan, read.err)
	}()
	ct := dl.ContentType
	if want := kybflow.ArtifactContentType(name); want != "" && !strings.HasPrefix(ct, want) {
		ct = want
	}
	var body io.Reader = read
	var inspect *boundedBuffer
	var report *reportCheck
	opts := blob.PutOptions{ContentType: ct, Metadata: kybflow.ObjectMetadata(id, rec.SessionID, name)}
	switch {
	case name == kybflow.ArtifactJSON:
		inspect = &boundedBuffer{limit: maxInspectedJSON}
		body = io.TeeReader(read, inspect)
	case isReport(name):
		if body, report, err = h.checkReport(read); err != nil {
			h.log.Warn("report not stored", "lookup_id", id, "artifact", name, "error", err)
			return kybflow.Artifact{}, inspection{}, fmt.Errorf("report %s of lookup %s: %w", name, id, err)
		}
		opts.After = report.after
	}
	uctx, uspan := h.tracer.Start(ctx, "upload", trace.WithSpanKind(trace.SpanKindClient), attrs)
	obj, err := h.c.Blobs.Put(uctx, key, body, dl.Size, opts)
	if err == nil {
		uspan.SetAttributes(AttrSize.Int64(obj.Size))
	}
	endStep(uspan, err)
	if err != nil {
		return kybflow.Artifact{}, inspection{}, &storeError{err: fmt.Errorf("store %s of lookup %s: %w", name, id, err)}
	}
	h.c.Metrics.ArtifactsStored.Inc()
	h.c.Metrics.BytesStored.Add(float64(obj.Size))
	h.log.Info("artifact stored", "lookup_id", id, "artifact", name, "key", obj.Key, "size", obj.Size)
	if inspect != nil {
		found = h.inspect(rec.Command, inspect)
	}
	art = kybflow.Artifact{
		Name: name, Bucket: obj.Bucket, Key: obj.Key, Size: obj.Size, SHA256: obj.SHA256, ContentType: obj.ContentType,
	}
	if report != nil && report.sig != nil {
		art.Signature = report.sig
		h.c.Metrics.ReportSignatures.WithLabelValues(string(report.sig.Status)).Inc()
		if report.sig.Status != kybflow.SignatureValid {
			h.log.Warn("report signature not valid", "lookup_id", id, "artifact", name, "signature", report.sig.Status, "reason", report.sig.Reason)
			if h.c.Reports.FailUnlessValid {
				return art, found, &errSignature{name: name, sig: *report.sig}
			}
		}
	}
	return art, found, nil
}

// maxInspectedJSON bounds the copy of a JSON result read for its summary;
// a larger document is stored whole, and its summary says it was too
// large (kybflow.SummaryTooLarge).
const maxInspectedJSON = 4 << 20

// boundedBuffer keeps the first limit bytes written to it and notes
// whether there were more; it never fails a write (the upload goes on).
type boundedBuffer struct {
	buf      bytes.Buffer
	limit    int
	overflow bool
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.buf.Len(); len(p) > room {
		b.overflow = true
		b.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// countingReader counts the bytes read through it and keeps the first
// error other than EOF, for the download's span.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// storeError marks a storage failure (as opposed to a download failure).
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }
