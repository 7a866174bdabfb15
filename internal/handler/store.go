package handler

// Storing: one result streamed from the API into storage.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/amlapi"
	"github.com/kybflow/kybflow/internal/blob"
	"github.com/kybflow/kybflow/internal/lookups"
)

// store streams one result from the API into storage. For the JSON of a
// beneficial owners lookup it also reads, from a bounded copy taken while
// streaming, which requested expands the API left out (omitted; nil when
// the question does not apply).
func (h *Handlers) store(ctx context.Context, rec lookups.Record, name, link string) (art kybflow.Artifact, omitted []string, err error) {
	id := rec.Command.Key()
	key, err := h.c.Keys.Key(id, name)
	if err != nil {
		return kybflow.Artifact{}, nil, err
	}
	// Two spans, overlapping as the work does: the download runs from the
	// request until its body is read, while the upload streams it.
	attrs := trace.WithAttributes(AttrLookupID.String(id), AttrArtifact.String(name))
	dctx, dspan := h.tracer.Start(ctx, "download", trace.WithSpanKind(trace.SpanKindClient), attrs)
	dl, err := h.c.API.Download(dctx, link)
	if err != nil {
		endStep(dspan, err)
		return kybflow.Artifact{}, nil, err
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
	if name == kybflow.ArtifactJSON && rec.Command.Type == kybflow.TypeBeneficialOwners && len(rec.Command.Expands) > 0 {
		inspect = &boundedBuffer{limit: maxInspectedJSON}
		body = io.TeeReader(read, inspect)
	}
	uctx, uspan := h.tracer.Start(ctx, "upload", trace.WithSpanKind(trace.SpanKindClient), attrs)
	obj, err := h.c.Blobs.Put(uctx, key, body, dl.Size, blob.PutOptions{
		ContentType: ct, Metadata: kybflow.ObjectMetadata(id, rec.SessionID, name),
	})
	if err == nil {
		uspan.SetAttributes(AttrSize.Int64(obj.Size))
	}
	endStep(uspan, err)
	if err != nil {
		return kybflow.Artifact{}, nil, &storeError{err: fmt.Errorf("store %s of lookup %s: %w", name, id, err)}
	}
	h.c.Metrics.ArtifactsStored.Inc()
	h.c.Metrics.BytesStored.Add(float64(obj.Size))
	h.log.Info("artifact stored", "lookup_id", id, "artifact", name, "key", obj.Key, "size", obj.Size)
	if inspect != nil {
		omitted = h.omittedExpands(rec.Command, inspect)
	}
	return kybflow.Artifact{
		Name: name, Bucket: obj.Bucket, Key: obj.Key, Size: obj.Size, SHA256: obj.SHA256, ContentType: obj.ContentType,
	}, omitted, nil
}

// maxInspectedJSON bounds the copy of a JSON result read for its omitted
// expands; a larger document is stored whole, uninspected.
const maxInspectedJSON = 4 << 20

// omittedExpands are the expands cmd asked for that the document says
// were left out, in the command's order; an empty, non-nil list when none.
func (h *Handlers) omittedExpands(cmd kybflow.LookupCommand, doc *boundedBuffer) []string {
	if doc.overflow {
		h.log.Warn("beneficial owners JSON too large to read its omitted expands", "lookup_id", cmd.Key(), "limit", maxInspectedJSON)
		return []string{}
	}
	left, err := amlapi.OmittedExpands(doc.buf.Bytes())
	if err != nil {
		h.log.Warn("beneficial owners JSON: omitted expands unreadable", "lookup_id", cmd.Key(), "err", err)
		return []string{}
	}
	out := []string{}
	for _, x := range cmd.Expands {
		if slices.Contains(left, x) {
			out = append(out, x)
		}
	}
	if len(out) > 0 {
		h.log.Info("the API left requested expands out (no National Registry access?)", "lookup_id", cmd.Key(), "omitted", out)
	}
	return out
}

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
