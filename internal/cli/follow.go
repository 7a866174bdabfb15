package cli

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/kybflow/kybflow"
	"github.com/kybflow/kybflow/client"
)

// Follow prints the progress of one lookup's events to out until its terminal event (or an erased event) arrives or ctx ends, and returns that event.
//
// It reads the lookup's events by subject (Client.Follow: no consumer, so a
// tenant's platform user may), so that events published before it
// subscribed are not missed. Each event is
// one line: the time since Follow started, the kind and a summary (the
// session id; the artifact count; the failure code, reason and whether it is
// retryable). A failed lookup is not an error: the returned event says so.
// When ctx ends first, the error wraps ctx.Err().
func Follow(ctx context.Context, c *client.Client, lookupID string, out io.Writer) (kybflow.Event, error) {
	ev, _, err := follow(ctx, c, lookupID, out)
	return ev, err
}

// follow is Follow that also returns the terminal event as JSON.
func follow(ctx context.Context, c *client.Client, lookupID string, out io.Writer) (kybflow.Event, []byte, error) {
	if !kybflow.ValidLookupID(lookupID) {
		return kybflow.Event{}, nil, fmt.Errorf("invalid lookupId %q: want 1 to 128 of A-Z a-z 0-9 _ -", lookupID)
	}
	start := time.Now()
	var last kybflow.Event
	err := c.Follow(ctx, lookupID, func(ev kybflow.Event) error {
		fmt.Fprintf(out, "%6.1fs  %-15s %s\n", time.Since(start).Seconds(), kindLabel(ev), summary(ev))
		if ev.Kind().Terminal() || ev.Kind() == kybflow.KindErased {
			last = ev
			return client.ErrStop
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return kybflow.Event{}, nil, fmt.Errorf("follow lookup %s: %w", lookupID, ctx.Err())
		}
		return kybflow.Event{}, nil, streamError(c.Subjects(), c.Subjects().EventsStream(), err)
	}
	raw, err := kybflow.EncodeEvent(last)
	if err != nil {
		return kybflow.Event{}, nil, err
	}
	return last, raw, nil
}

// kindLabel is the kind of ev for people.
func kindLabel(ev kybflow.Event) string {
	switch k := ev.Kind(); k {
	case kybflow.KindSessionOpened:
		return "session opened"
	case "":
		return ev.Type
	default:
		return string(k)
	}
}

// summary is the gist of an event in one line.
func summary(ev kybflow.Event) string {
	switch d := ev.Data.(type) {
	case kybflow.AcceptedData:
		if d.IdentifierType != "" && d.IdentifierType != kybflow.IdentifierOrganizationNumber {
			return fmt.Sprintf("%s %s %s %s", d.Type, d.Country, d.IdentifierType, d.Identifier)
		}
		return fmt.Sprintf("%s %s %s", d.Type, d.Country, d.Identifier)
	case kybflow.SessionOpenedData:
		return "session " + d.SessionID
	case kybflow.CompletedData:
		n := len(d.Artifacts)
		if n == 1 {
			return "1 artifact"
		}
		return fmt.Sprintf("%d artifacts", n)
	case kybflow.FailedData:
		return fmt.Sprintf("%s: %s (%s)", d.Code, oneLine(d.Reason), retryableText(d.Retryable))
	case kybflow.ErasedData:
		return "personal data erased at " + d.ErasedAt.UTC().Format(time.RFC3339)
	case kybflow.ChangedData:
		return changedSummary(d)
	case kybflow.MonitorData:
		return monitorSummary(d)
	}
	return ""
}

// changedSummary is each changed block with its counts.
func changedSummary(d kybflow.ChangedData) string {
	parts := make([]string, len(d.Blocks))
	for i, b := range d.Blocks {
		parts[i] = fmt.Sprintf("%s +%d -%d ~%d", b.Block, b.Added, b.Removed, b.Modified)
	}
	return fmt.Sprintf("since %s: %s", d.PreviousLookupID, strings.Join(parts, ", "))
}

// monitorSummary is what happened to the monitor: the action applied and
// the monitor as it is, or the rejection.
func monitorSummary(d kybflow.MonitorData) string {
	if d.Code != "" {
		return fmt.Sprintf("%s rejected: %s: %s", cmp.Or(string(d.Action), "command"), d.Code, oneLine(d.Reason))
	}
	s := fmt.Sprintf("%s applied: %s", d.Action, d.Status)
	if sc := d.Schedule; sc != nil && sc.Every != "" {
		s += ", every " + sc.Every
	} else if sc != nil {
		s += ", cron " + sc.Cron + " " + cmp.Or(sc.TimeZone, "UTC")
	}
	if d.Until != nil {
		s += ", until " + d.Until.UTC().Format(time.RFC3339)
	}
	return s
}

func retryableText(retryable bool) string {
	if retryable {
		return "retryable: send it again with a new lookupId"
	}
	return "not retryable"
}

// PrintArtifacts prints a completed event's artifacts; when blobDir is not empty, with each artifact's local file path (blobDir joined with the key).
//
// One line per artifact: name, size, the first 12 hex digits of its
// SHA-256, and bucket/key.
func PrintArtifacts(out io.Writer, d kybflow.CompletedData, blobDir string) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if blobDir != "" {
		fmt.Fprintln(tw, "ARTIFACT\tSIZE\tSHA256\tSIGNATURE\tOBJECT\tFILE")
	} else {
		fmt.Fprintln(tw, "ARTIFACT\tSIZE\tSHA256\tSIGNATURE\tOBJECT")
	}
	for _, a := range d.Artifacts {
		sum := a.SHA256
		if len(sum) > 12 {
			sum = sum[:12]
		}
		sig := "-"
		if a.Signature != nil {
			sig = string(a.Signature.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s/%s", a.Name, humanSize(a.Size), sum, sig, a.Bucket, a.Key)
		if blobDir != "" {
			fmt.Fprintf(tw, "\t%s", filepath.Join(blobDir, filepath.FromSlash(a.Key)))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

// humanSize is n bytes in B, KiB, MiB or GiB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, [...]string{"KiB", "MiB", "GiB"}[i])
}
