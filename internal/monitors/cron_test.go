package monitors

import (
	"strings"
	"testing"
	"time"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Skipf("time zone %s: %v", name, err)
	}
	return loc
}

func mustCron(t *testing.T, expr string, loc *time.Location) *Cron {
	t.Helper()
	c, err := ParseCron(expr, loc)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCronNext(t *testing.T) {
	t.Parallel()
	oslo := mustZone(t, "Europe/Oslo")
	utc := func(s string) time.Time {
		at, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	for _, tc := range []struct {
		expr  string
		loc   *time.Location
		after string
		want  string // "" for none
	}{
		{"* * * * * *", nil, "2026-03-02T09:30:15.5Z", "2026-03-02T09:30:16Z"},
		{"* * * * * *", nil, "2026-03-02T09:30:15Z", "2026-03-02T09:30:16Z"}, // strictly after
		{"*/10 * * * * *", nil, "2026-03-02T09:30:15Z", "2026-03-02T09:30:20Z"},
		{"5/20 * * * * *", nil, "2026-03-02T09:30:26Z", "2026-03-02T09:30:45Z"}, // 5/20 is 5-59/20
		{"0 0 6 * * MON", nil, "2026-03-02T06:00:00Z", "2026-03-09T06:00:00Z"},
		{"0 0 6 * * mon", nil, "2026-03-01T00:00:00Z", "2026-03-02T06:00:00Z"},  // names in any case
		{"0 0 6 * * MON", oslo, "2026-03-01T00:00:00Z", "2026-03-02T05:00:00Z"}, // 06:00 CET
		{"0 30 7 1 * *", nil, "2026-03-02T00:00:00Z", "2026-04-01T07:30:00Z"},
		{"0 0 0 1 JAN-MAR/2 ?", nil, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z"},
		{"0 0 12 29 FEB *", nil, "2025-01-01T00:00:00Z", "2028-02-29T12:00:00Z"},
		{"0 0 0 30 FEB *", nil, "2026-01-01T00:00:00Z", ""},
		// Both day fields restricted: either day; one a star: both.
		{"0 0 0 1 * MON", nil, "2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z"},
		{"0 0 0 1 * MON", nil, "2026-03-30T00:00:00Z", "2026-04-01T00:00:00Z"},
		{"0 0 0 ? * MON", nil, "2026-03-02T00:00:00Z", "2026-03-09T00:00:00Z"},
		{"0 0 0 */2 * SUN", nil, "2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z"}, // */2 restricts
		{"0 0 0 13 * FRI", nil, "2026-03-01T00:00:00Z", "2026-03-06T00:00:00Z"},
		// Summer time in Oslo: 02:30 does not exist on 29 March 2026, and
		// is there twice on 25 October 2026.
		{"0 30 2 * * *", oslo, "2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"},
		{"0 30 2 * * *", oslo, "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z"},
		{"0 30 2 * * *", oslo, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"},
		{"0 30 2 * * *", oslo, "2026-10-25T01:30:00Z", "2026-10-26T01:30:00Z"},
	} {
		got, ok := mustCron(t, tc.expr, tc.loc).Next(utc(tc.after))
		if tc.want == "" {
			if ok {
				t.Errorf("%q after %s = %s, want none", tc.expr, tc.after, got)
			}
			continue
		}
		if !ok || !got.Equal(utc(tc.want)) {
			t.Errorf("%q in %v after %s = %s %v, want %s", tc.expr, tc.loc, tc.after, got.UTC(), ok, tc.want)
		}
	}
}

func TestCronCount(t *testing.T) {
	t.Parallel()
	oslo := mustZone(t, "Europe/Oslo")
	monday := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	month := 30 * 24 * time.Hour
	for _, tc := range []struct {
		expr     string
		loc      *time.Location
		from, to time.Time
		want     int
	}{
		{"*/10 * * * * *", nil, monday, monday.Add(month), 259200},
		{"* * * * * *", nil, monday, monday.Add(month), 2592000},
		{"0 0 6 * * MON", nil, monday, monday.Add(month), 5},                           // 2, 9, 16, 23, 30 March
		{"0 0 6 * * MON", nil, monday.Add(6 * time.Hour), monday.Add(month), 4},        // (from, to]: not the 2nd
		{"0 0 6 * * MON", nil, monday.Add(-time.Second), monday.Add(6 * time.Hour), 1}, // to is in
		{"0 0 9-17 * * MON-FRI", oslo, monday, monday.Add(month), 22 * 9},
		{"0 30 2 * * *", oslo, time.Date(2026, 3, 28, 0, 0, 0, 0, oslo), time.Date(2026, 3, 30, 0, 0, 0, 0, oslo), 1},
		{"0 30 2 * * *", oslo, time.Date(2026, 10, 25, 0, 0, 0, 0, oslo), time.Date(2026, 10, 26, 0, 0, 0, 0, oslo), 2},
		{"0 0 * * * *", oslo, time.Date(2026, 3, 29, 0, 0, 0, 0, oslo), time.Date(2026, 3, 30, 0, 0, 0, 0, oslo), 23},
		{"0 0 * * * *", oslo, time.Date(2026, 10, 25, 0, 0, 0, 0, oslo), time.Date(2026, 10, 26, 0, 0, 0, 0, oslo), 25},
	} {
		if got := mustCron(t, tc.expr, tc.loc).Count(tc.from, tc.to); got != tc.want {
			t.Errorf("Count(%q in %v, %s, %s) = %d, want %d", tc.expr, tc.loc, tc.from, tc.to, got, tc.want)
		}
	}
}

// TestCronWalk checks the walk of days and minutes against a test of
// every second: each slot found matches, and no second between two slots
// does, across both changes of clock of a year in Oslo.
func TestCronWalk(t *testing.T) {
	t.Parallel()
	oslo := mustZone(t, "Europe/Oslo")
	matches := func(c *Cron, at time.Time) bool {
		l := at.In(c.loc)
		return c.second.has(l.Second()) && c.minute.has(l.Minute()) && c.hour.has(l.Hour()) && c.dayMatches(l)
	}
	for _, expr := range []string{"*/7 */13 2,3 * * *", "15 0/20 1-3 25-31 MAR,OCT SUN", "0 59 23 L * *"} {
		c, err := ParseCron(expr, oslo)
		if strings.Contains(expr, "L") {
			if err == nil {
				t.Errorf("ParseCron(%q) took L", expr)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, day := range []time.Time{time.Date(2026, 3, 29, 0, 0, 0, 0, oslo), time.Date(2026, 10, 25, 0, 0, 0, 0, oslo)} {
			from, to := day.Add(-time.Hour), day.Add(5*time.Hour)
			var want []time.Time
			for at := from.Add(time.Second); !at.After(to); at = at.Add(time.Second) {
				if matches(c, at) {
					want = append(want, at)
				}
			}
			var got []time.Time
			c.each(from, to, func(at time.Time) bool { got = append(got, at); return true })
			if len(got) != len(want) || len(want) == 0 {
				t.Fatalf("%q around %s: %d slots, want %d (and some)", expr, day, len(got), len(want))
			}
			for i := range want {
				if !got[i].Equal(want[i]) {
					t.Fatalf("%q around %s: slot %d is %s, want %s", expr, day, i, got[i], want[i])
				}
			}
		}
	}
}

func TestParseCronRefuses(t *testing.T) {
	t.Parallel()
	for _, expr := range []string{
		"0 6 * * MON",       // 5 fields
		"60 * * * * *",      // second 60
		"* * 24 * * *",      // hour 24
		"* * * 0 * *",       // day 0
		"* * * * 13 *",      // month 13
		"* * * * * 7",       // Sunday is 0
		"* * * * * MON-SUN", // backwards
		"*/0 * * * * *",     // step 0
		"* * * * * JAN",     // a month's name for a day
		"1-2-3 * * * * *",
		"a * * * * *",
	} {
		if _, err := ParseCron(expr, nil); err == nil {
			t.Errorf("ParseCron(%q) = nil error", expr)
		}
	}
}
