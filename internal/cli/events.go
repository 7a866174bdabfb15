package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/kybflow/kybflow"
)

const eventsAbout = `
Prints the lookup events of the events stream (<PREFIX>_EVENTS), of every lookup
or of one (--lookup), one per line: the event's time, lookupId, kind and a
summary (the organization; the session id; the artifact count; the failure
code and reason). With --json each line is the event as published, a
CloudEvent in JSON.

By default it prints new events as they are published until interrupted
(Ctrl-C, exit status 0). --all starts at the oldest event the stream keeps
(the worker's EVENTS_MAX_AGE), --since at events of the last DURATION.
--follow=false prints the events that exist now and exits; without --since
it starts at the oldest.`

// consumerInactive is how long the server keeps a reader's ephemeral
// consumer after the reader went away (it is busy while we read).
const consumerInactive = 30 * time.Second

func (a *app) runEvents(ctx context.Context, args []string) error {
	var (
		conn                      natsSettings
		lookupID                  string
		asJSON, all, followEvents bool
		since                     time.Duration
	)
	f := a.newFlags("events", "amlctl events [flags]", eventsAbout)
	f.String(&lookupID, "lookup", "", "only the events of the lookup with this `ID`")
	f.Bool(&asJSON, "json", false, "print each event as it was published (JSON lines of CloudEvents)")
	f.Bool(&all, "all", false, "start at the oldest event the stream keeps")
	f.Duration(&since, "since", 0, "start at events published in the last `DURATION`, e.g. 30m or 2h")
	f.Bool(&followEvents, "follow", true, "keep printing events as they are published, until interrupted; --follow=false exits after the events that exist now")
	conn.register(f)
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected argument %q (for one lookup say --lookup ID)", pos[0])
	}
	if lookupID != "" {
		key, err := conn.key(lookupID)
		if err != nil {
			return err
		}
		lookupID = key
	}
	if all && f.isSet("since") {
		return usagef("--all and --since exclude each other")
	}
	if f.isSet("since") && since <= 0 {
		return usagef("--since must be positive, got %s", since)
	}
	subjects, err := conn.subjects()
	if err != nil {
		return err
	}

	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{subjects.EventsAll()},
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		InactiveThreshold: consumerInactive,
	}
	if lookupID != "" {
		cfg.FilterSubjects = []string{subjects.EventsFor(lookupID)}
	}
	switch {
	case since > 0:
		start := time.Now().Add(-since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	case all, !followEvents:
		cfg.DeliverPolicy = jetstream.DeliverAllPolicy
	}

	nc, js, err := conn.connect()
	if err != nil {
		return err
	}
	defer nc.Close()
	stream := subjects.EventsStream()
	cons, err := js.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return streamError(subjects, stream, err)
	}
	// Without --follow, read what the consumer had pending when it was
	// made, and no more.
	var pending uint64
	if info := cons.CachedInfo(); info != nil {
		pending = info.NumPending
	}
	if !followEvents && pending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("read %s: %w", stream, err)
	}
	defer it.Stop()
	for n := uint64(0); followEvents || n < pending; n++ {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil // interrupted: the way to stop following
			}
			return fmt.Errorf("read %s: %w", stream, err)
		}
		if asJSON {
			if err := printJSONLine(a.stdout, msg.Data()); err != nil {
				fmt.Fprintf(a.stderr, "amlctl events: %s: %v\n", msg.Subject(), err)
			}
			continue
		}
		ev, err := kybflow.DecodeEvent(msg.Data())
		if err != nil {
			fmt.Fprintf(a.stdout, "%-24s  %s  ?  %v\n", "", msg.Subject(), err)
			continue
		}
		fmt.Fprintf(a.stdout, "%-24s  %s  %-14s  %s\n",
			ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"), ev.Subject, eventKind(ev), summary(ev))
	}
	return nil
}

// eventKind is the kind of ev as in its subject, or its type when unknown.
func eventKind(ev kybflow.Event) string {
	if k := ev.Kind(); k != "" {
		return string(k)
	}
	return ev.Type
}
