package cli

// What amlctl erase prints of each erasure: the lookupId, object keys
// (which hold only the lookupId), counts; nothing of the lookup's content.

import (
	"fmt"
	"io"
	"strings"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/internal/erasure"
	"github.com/kybflow/kybflow/internal/streams"
)

// erasurePrinter prints erasures of one deployment and store.
type erasurePrinter struct {
	w        io.Writer
	subjects kybflow.Subjects
	bucket   string // the store's, before each key
	dir      bool   // BLOB_DIR: its incomplete writes are temporary files
}

func (p erasurePrinter) print(r *erasure.Result) {
	at := r.ErasedAt.UTC().Format("2006-01-02T15:04:05.000Z")
	switch {
	case r.Already && !r.Removed():
		fmt.Fprintf(p.w, "lookup %s: erased already at %s; nothing found to remove now, and no erased event published again\n", r.Key, at)
		return
	case r.Already:
		fmt.Fprintf(p.w, "lookup %s: erased already at %s; removed what appeared since (no erased event published again):\n", r.Key, at)
	case r.Resumed:
		fmt.Fprintf(p.w, "lookup %s: finished its erasure begun at %s:\n", r.Key, at)
	case r.State == "":
		fmt.Fprintf(p.w, "lookup %s: erased at %s (it had no record: never seen, or older than the worker's LOOKUP_RETENTION):\n", r.Key, at)
	case !r.State.Terminal():
		fmt.Fprintf(p.w, "lookup %s: erased at %s with --force while %s: a worker still handling it may store or publish again; erase it again once it is done:\n", r.Key, at, r.State)
	default:
		fmt.Fprintf(p.w, "lookup %s: erased at %s (it was %s):\n", r.Key, at, r.State)
	}
	names := streams.NamesOf(p.subjects)
	p.line("objects", p.objects(r))
	if len(r.Refused) > 0 {
		p.line("refused", p.refused(r))
	}
	p.line("events", fmt.Sprintf("%s deleted from %s", plural(r.Events, "event"), p.subjects.EventsStream()))
	p.line("webhooks", fmt.Sprintf("%s deleted from %s", plural(r.Webhooks, "webhook"), names.WebhooksStream()))
	p.line("checks", fmt.Sprintf("%s deleted from %s", plural(r.Checks, "check"), names.ChecksStream()))
	p.line("dead letters", fmt.Sprintf("%s deleted from %s", plural(len(r.DeadLetters), "dead letter"), p.subjects.DeadLetterStream()))
	record := "replaced by a tombstone: state erased, with the lookupId and erasedAt only"
	switch {
	case r.Already:
		record = "a tombstone already"
	case r.State == "":
		record = "none; a tombstone (state erased, with the lookupId and erasedAt only) now keeps its lookupId from being used again"
	}
	if r.History > 0 {
		record += fmt.Sprintf("; %s purged", plural(int(r.History), "older revision")) //nolint:gosec // G115: a key's revisions
	}
	p.line("record", record)
	switch {
	case r.Duplicate:
		p.line("event", fmt.Sprintf("erased was published already (the stream dropped this copy of %s)", kybflow.EventID(r.Key, kybflow.KindErased)))
	case r.Published:
		p.line("event", "erased published to "+p.subjects.Event(r.Key, kybflow.KindErased))
	}
}

func (p erasurePrinter) line(label, text string) { fmt.Fprintf(p.w, "  %-12s %s\n", label, text) }

// objects says what the lookup's prefix held: its objects by name, and
// how many versions and incomplete writes went with them.
func (p erasurePrinter) objects(r *erasure.Result) string {
	o := r.Objects
	s := plural(len(o.Objects), "object") + " deleted"
	if len(o.Objects) > 0 {
		keys := make([]string, len(o.Objects))
		for i, k := range o.Objects {
			keys[i] = p.bucket + "/" + k
		}
		s += ": " + strings.Join(keys, ", ")
	}
	var more []string
	if o.Versions > 0 {
		more = append(more, plural(o.Versions, "older version or delete marker", "older versions and delete markers"))
	}
	if o.Uploads > 0 && p.dir {
		more = append(more, plural(o.Uploads, "temporary file of a write cut short", "temporary files of writes cut short"))
	} else if o.Uploads > 0 {
		more = append(more, plural(o.Uploads, "incomplete multipart upload"))
	}
	if len(more) > 0 {
		s += "; and " + strings.Join(more, ", ")
	}
	return s
}

// refused lists the locations of the record that were not deleted.
func (p erasurePrinter) refused(r *erasure.Result) string {
	items := make([]string, len(r.Refused))
	for i, f := range r.Refused {
		items[i] = fmt.Sprintf("%s/%s (%s)", f.Bucket, f.Key, f.Reason)
	}
	return fmt.Sprintf("%s its record names, not deleted (not under its prefix in this store; look at them by hand): %s",
		plural(len(r.Refused), "location"), strings.Join(items, ", "))
}
