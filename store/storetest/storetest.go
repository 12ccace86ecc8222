// Package storetest is the contract every geowatch store backend passes: one
// suite, written only against store.Backend and the types of package store
// and package monitor, that store/sqlite and store/postgis both run in their
// tests. SQLite is the reference for the semantics: each assertion here was
// first an assertion of store/sqlite's own tests that does not depend on how
// SQLite keeps the data.
//
// Every subtest has a stable name (Run's t.Run tree), so that a table of
// test × backend can be printed from `go test -v` of both backends.
package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
)

// Run runs the contract against the backend open returns; open is called for
// each subtest and must return a new, empty, migrated database (closed by the
// test's cleanup); reopen(t, b) closes b and opens the same database again,
// for "across a restart"; another(t, b) opens a second handle on b's
// database beside it, as another process would.
//
// The backends' clocks are not set: where the contract needs a time it passes
// one, and the few methods that read the store's clock (ListSilences without
// all, AddSilence with no start) are tested with times far from now.
func Run(t *testing.T, open func(t *testing.T) store.Backend, reopen, another func(t *testing.T, b store.Backend) store.Backend) {
	c := &contract{open: open, reopen: reopen, another: another}
	for _, g := range []struct {
		name  string
		tests []subtest
	}{
		{"Basics", c.basics()},
		{"Ingest", c.ingestTests()},
		{"Query", c.queryTests()},
		{"Lookup", c.lookupTests()},
		{"Alerts", c.alertTests()},
		{"Silences", c.silenceTests()},
		{"Sources", c.sourceTests()},
		{"Retention", c.retentionTests()},
	} {
		t.Run(g.name, func(t *testing.T) {
			for _, st := range g.tests {
				t.Run(st.name, func(t *testing.T) { st.fn(t, open(t)) })
			}
		})
	}
}

// contract holds Run's arguments for the subtests.
type contract struct {
	open            func(t *testing.T) store.Backend
	reopen, another func(t *testing.T, b store.Backend) store.Backend
}

// subtest is one named test of the contract on a fresh database.
type subtest struct {
	name string
	fn   func(t *testing.T, db store.Backend)
}

func (c *contract) basics() []subtest {
	return []subtest{
		{"Ping", func(t *testing.T, db store.Backend) {
			if err := db.Ping(t.Context()); err != nil {
				t.Errorf("Ping on a new database = %v", err)
			}
		}},
		{"SchemaVersion", func(t *testing.T, db store.Backend) {
			v, err := db.SchemaVersion(t.Context())
			if err != nil || v == "" {
				t.Errorf("SchemaVersion = %q, %v; want a migration name", v, err)
			}
			db = c.reopen(t, db)
			if v2, err := db.SchemaVersion(t.Context()); err != nil || v2 != v {
				t.Errorf("SchemaVersion after a restart = %q, %v; want %q", v2, err, v)
			}
		}},
		{"Empty", func(t *testing.T, db store.Backend) {
			ctx := t.Context()
			if n, err := db.CountObservations(ctx); err != nil || n != 0 {
				t.Errorf("CountObservations = %d, %v; want 0", n, err)
			}
			if fid, tr, err := db.Latest(ctx); err != nil || fid != 0 || tr != 0 {
				t.Errorf("Latest = %d, %d, %v; want 0, 0", fid, tr, err)
			}
			if as, err := db.OpenAlerts(ctx); err != nil || len(as) != 0 {
				t.Errorf("OpenAlerts = %v, %v; want none", as, err)
			}
			if ss, err := db.Sources(ctx); err != nil || len(ss) != 0 {
				t.Errorf("Sources = %v, %v; want none", ss, err)
			}
			if id, err := db.Cursor(ctx, "nobody"); err != nil || id != 0 {
				t.Errorf("Cursor = %d, %v; want 0", id, err)
			}
			n := 0
			if err := db.Query(ctx, store.QueryFilter{}, func(monitor.Observation) error { n++; return nil }); err != nil || n != 0 {
				t.Errorf("Query = %d rows, %v; want none", n, err)
			}
			if db.String() == "" {
				t.Error("String is empty")
			}
		}},
	}
}

// t0 is the contract's clock: every time it stores is relative to it.
var t0 = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// obs returns a minimal valid observation.
func obs(id string, lon, lat float64, at time.Time) monitor.Observation {
	return monitor.Observation{ID: id, Time: at, Point: orb.Point{lon, lat}, Kind: "seismic"}
}

// ingest stores b at t0+1h and checks the counts add up.
func ingest(t testing.TB, db store.Backend, source string, b monitor.Batch) monitor.IngestResult {
	t.Helper()
	return ingestAt(t, db, source, b, t0.Add(time.Hour))
}

func ingestAt(t testing.TB, db store.Backend, source string, b monitor.Batch, now time.Time) monitor.IngestResult {
	t.Helper()
	res, err := db.Ingest(t.Context(), source, b, now)
	if err != nil {
		t.Fatalf("Ingest %s: %v", source, err)
	}
	if sum := res.Added + res.Updated + res.Unchanged + res.Rejected; sum != res.Seen {
		t.Errorf("%+v: Added+Updated+Unchanged+Rejected = %d, want Seen", res, sum)
	}
	if want := len(b.Observations) + len(b.Rejects); res.Seen != want {
		t.Errorf("%+v: Seen = %d, want %d (records in the batch)", res, res.Seen, want)
	}
	return res
}

// queryAll collects what Query returns for f.
func queryAll(t testing.TB, db store.Backend, f store.QueryFilter) []monitor.Observation {
	t.Helper()
	var got []monitor.Observation
	if err := db.Query(t.Context(), f, func(o monitor.Observation) error { got = append(got, o); return nil }); err != nil {
		t.Fatalf("Query(%+v): %v", f, err)
	}
	return got
}

// byID returns the stored observation with id in source, failing the test if
// there is not exactly one.
func byID(t testing.TB, db store.Backend, source, id string) monitor.Observation {
	t.Helper()
	var found []monitor.Observation
	for _, o := range queryAll(t, db, store.QueryFilter{Sources: []string{source}}) {
		if o.ID == id {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s/%s: %d stored rows, want 1", source, id, len(found))
	}
	return found[0]
}

// ms returns t in UTC at the millisecond precision times are stored at.
func ms(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC().Truncate(time.Millisecond)
}

// sameTime reports whether a and b are the same millisecond (or both zero).
func sameTime(a, b time.Time) bool { return ms(a).Equal(ms(b)) }

// normObservation returns o with its times at stored precision and its Pos
// (never stored) cleared, for comparing what went in with what comes out.
func normObservation(o monitor.Observation) monitor.Observation {
	o.Time, o.Revised, o.Ingested = ms(o.Time), ms(o.Revised), ms(o.Ingested)
	o.Pos = monitor.Position{}
	return o
}

// normAlert returns a with every time at stored precision.
func normAlert(a monitor.Alert) monitor.Alert {
	a.ActiveAt, a.StartsAt, a.UpdatedAt, a.EndsAt = ms(a.ActiveAt), ms(a.StartsAt), ms(a.UpdatedAt), ms(a.EndsAt)
	a.LastHeldAt, a.LastNotifiedAt = ms(a.LastHeldAt), ms(a.LastNotifiedAt)
	f := &a.Finding
	f.FirstSeen, f.LastSeen = ms(f.FirstSeen), ms(f.LastSeen)
	if f.FIDs == nil {
		f.FIDs = []int64{}
	}
	if p := f.Progression; p != nil {
		q := *p
		q.Steps = slices.Clone(p.Steps)
		for i := range q.Steps {
			q.Steps[i].At = ms(q.Steps[i].At)
		}
		for _, s := range []**monitor.ProgressionStep{&q.Next, &q.End} {
			if *s != nil {
				c := **s
				c.At = ms(c.At)
				*s = &c
			}
		}
		f.Progression = &q
	}
	return a
}

// sameAlert compares two alerts field by field at stored precision: printed,
// so that NaN stats compare equal and nil and empty slices and maps alike.
func sameAlert(a, b monitor.Alert) bool { return alertString(a) == alertString(b) }

func alertString(a monitor.Alert) string {
	a = normAlert(a)
	p := a.Finding.Progression
	a.Finding.Progression = nil // printed below, not its address
	s := fmt.Sprintf("%+v", a)
	if p != nil {
		j, err := json.Marshal(p) // its steps' times are at stored precision already
		if err != nil {
			return s + " progression: " + err.Error()
		}
		s += " progression=" + string(j)
	}
	return s
}
