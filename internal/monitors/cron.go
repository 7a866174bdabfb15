package monitors

// A 6-field cron expression as JetStream's message schedules read it
// (nats-server's server/cron.go, itself after robfig/cron): seconds
// minutes hours day-of-month month day-of-week, each a comma-separated
// list of `*`, `?`, a value or a range a-b, optionally stepped by /n (a/n
// is a-max/n); months JAN..DEC and days SUN..SAT by name too, in any case;
// days of the week 0 (Sunday) to 6. When both day fields are restricted
// (neither holds a `*` or `?` unstepped), a day matches either; otherwise
// both. Slots are wall-clock times in the schedule's zone: a slot in an
// hour skipped by a change to summer time does not fire, one in an hour
// repeated at its end fires twice, as the server's does.
//
// It is written here rather than imported: the server's is unexported,
// and the module requires no cron package.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed 6-field cron expression in a time zone.
type Cron struct {
	second, minute, hour, dom, month, dow bitset
	domStar, dowStar                      bool
	loc                                   *time.Location
}

// bitset holds the values of one field (0 to 59).
type bitset uint64

func (b bitset) has(v int) bool { return b&(1<<uint(v)) != 0 }

// cronField is the range and names of one field.
type cronField struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i (months) or i (days)
}

var cronFields = [6]cronField{
	{name: "seconds", max: 59},
	{name: "minutes", max: 59},
	{name: "hours", max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day of week", max: 6, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}},
}

// ParseCron parses expr, whose slots are wall-clock times in loc (UTC when
// nil).
func ParseCron(expr string, loc *time.Location) (*Cron, error) {
	fields := strings.Fields(expr)
	if len(fields) != 6 {
		return nil, fmt.Errorf("cron %q: want 6 fields (seconds minutes hours day-of-month month day-of-week), got %d", expr, len(fields))
	}
	if loc == nil {
		loc = time.UTC
	}
	c := &Cron{loc: loc}
	sets := [6]*bitset{&c.second, &c.minute, &c.hour, &c.dom, &c.month, &c.dow}
	for i, f := range fields {
		set, star, err := cronFields[i].parse(f)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %s %q: %w", expr, cronFields[i].name, f, err)
		}
		*sets[i] = set
		switch i {
		case 3:
			c.domStar = star
		case 5:
			c.dowStar = star
		}
	}
	return c, nil
}

// parse reads one field: its values, and whether it holds an unstepped
// `*` or `?` (which makes the day fields combine by "and").
func (cf cronField) parse(field string) (set bitset, star bool, err error) {
	for part := range strings.SplitSeq(field, ",") {
		lo, hi, step := cf.min, cf.max, 1
		rng, stepText, stepped := strings.Cut(part, "/")
		if stepped {
			if step, err = strconv.Atoi(stepText); err != nil || step < 1 {
				return 0, false, fmt.Errorf("step %q: want a positive number", stepText)
			}
		}
		if rng == "*" || rng == "?" {
			star = star || step == 1
		} else {
			a, b, isRange := strings.Cut(rng, "-")
			if lo, err = cf.value(a); err != nil {
				return 0, false, err
			}
			switch {
			case isRange:
				if hi, err = cf.value(b); err != nil {
					return 0, false, err
				}
			case !stepped:
				hi = lo
			}
			if lo > hi {
				return 0, false, fmt.Errorf("range %q runs backwards", rng)
			}
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, star, nil
}

// value reads a number or a name of the field, within its range.
func (cf cronField) value(s string) (int, error) {
	for i, n := range cf.names {
		if strings.EqualFold(s, n) {
			if cf.name == "month" {
				return i + 1, nil
			}
			return i, nil
		}
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < cf.min || v > cf.max {
		return 0, fmt.Errorf("%q: want %d to %d%s", s, cf.min, cf.max, cf.namesHint())
	}
	return v, nil
}

func (cf cronField) namesHint() string {
	if len(cf.names) == 0 {
		return ""
	}
	return " or " + cf.names[0] + ".." + cf.names[len(cf.names)-1]
}

// dayMatches reports whether the local date of day is one of the
// expression's days.
func (c *Cron) dayMatches(day time.Time) bool {
	if !c.month.has(int(day.Month())) {
		return false
	}
	dom, dow := c.dom.has(day.Day()), c.dow.has(int(day.Weekday()))
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}

// nextLimit bounds the search of Next, as the server bounds its own.
const nextLimit = 5 * 366 * 24 * time.Hour

// Next is the first slot after t (at least a second after t truncated to
// the second, as the server computes a schedule's next fire), and false
// when there is none within five years (February 30th).
func (c *Cron) Next(t time.Time) (time.Time, bool) {
	var next time.Time
	c.each(t, t.Add(nextLimit), func(s time.Time) bool { next = s; return false })
	return next, !next.IsZero()
}

// Count is the number of slots in (from, to].
func (c *Cron) Count(from, to time.Time) int {
	n := 0
	c.each(from, to, func(time.Time) bool { n++; return true })
	return n
}

// each calls f with each slot in (from, to], in order, until f returns
// false. It walks the local days of the zone and, on a matching day, its
// minutes in absolute time (so a day of 23 or 25 hours is walked whole;
// zones' offsets are whole minutes).
func (c *Cron) each(from, to time.Time, f func(time.Time) bool) {
	start := from.Truncate(time.Second).Add(time.Second)
	l := start.In(c.loc)
	day := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, c.loc)
	for !day.After(to) {
		next := time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, c.loc)
		if c.dayMatches(day) {
			m := day
			if first := start.Truncate(time.Minute); first.After(m) {
				m = first
			}
			for ; m.Before(next); m = m.Add(time.Minute) {
				if m.After(to) {
					return
				}
				lm := m.In(c.loc)
				if !c.hour.has(lm.Hour()) || !c.minute.has(lm.Minute()) {
					continue
				}
				for s := range 60 {
					if !c.second.has(s) {
						continue
					}
					t := m.Add(time.Duration(s) * time.Second)
					switch {
					case t.Before(start):
						continue
					case t.After(to):
						return
					case !f(t):
						return
					}
				}
			}
		}
		day = next
	}
}
