package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
)

func (c *contract) ingestTests() []subtest {
	return []subtest{
		{"AddAndReingest", testAddAndReingest},
		{"Updates", testUpdates},
		{"DuplicatesInBatch", testDuplicatesInBatch},
		{"Rejects", testRejects},
		{"Normalize", testNormalize},
		{"Revisions", testRevisions},
		{"Namespaces", testNamespaces},
		{"Reconciliation", c.testReconciliation},
		{"Cancelled", testIngestCancelled},
		{"IngestReportsWrittenRows", testIngestReportsWrittenRows},
	}
}

// testAddAndReingest: a batch is added once; the same batch again is
// unchanged; a mixed batch counts each record exactly.
func testAddAndReingest(t *testing.T, db store.Backend) {
	var batch []monitor.Observation
	for i := range 250 {
		o := obs(fmt.Sprintf("ev-%03d", i), 130+float64(i)/100, 40+float64(i)/200, t0.Add(time.Duration(i)*time.Minute))
		o.Properties = json.RawMessage(`{"mag":3.1}`)
		batch = append(batch, o)
	}
	if res, want := ingest(t, db, "usgs", monitor.Batch{Observations: batch}), (monitor.IngestResult{Seen: 250, Added: 250}); res != want {
		t.Errorf("first ingest = %+v, want %+v", res, want)
	}
	if res, want := ingest(t, db, "usgs", monitor.Batch{Observations: batch}), (monitor.IngestResult{Seen: 250, Unchanged: 250}); res != want {
		t.Errorf("re-ingest = %+v, want %+v", res, want)
	}
	if n, err := db.CountObservations(t.Context()); err != nil || n != 250 {
		t.Errorf("CountObservations after re-ingest = %d, %v; want 250", n, err)
	}
	// 10 unchanged, 5 changed, 5 new, 2 rejected by the parser, 1 invalid.
	var mixed []monitor.Observation
	mixed = append(mixed, batch[:10]...)
	for _, o := range batch[10:15] {
		o.Title = "revised"
		mixed = append(mixed, o)
	}
	for i := range 5 {
		mixed = append(mixed, obs(fmt.Sprintf("new-%d", i), 1, 2, t0))
	}
	mixed = append(mixed, obs("bad", 200, 0, t0))
	res := ingest(t, db, "usgs", monitor.Batch{Observations: mixed,
		Rejects: []monitor.Reject{{Record: "line 1", Err: monitor.ErrBadTime}, {Record: "line 2", Err: monitor.ErrMissing}}})
	if want := (monitor.IngestResult{Seen: 23, Added: 5, Updated: 5, Unchanged: 10, Rejected: 3}); res != want {
		t.Errorf("mixed batch = %+v, want %+v", res, want)
	}
	// The same id from another source is another row.
	if res, want := ingest(t, db, "emsc", monitor.Batch{Observations: batch[:3]}), (monitor.IngestResult{Seen: 3, Added: 3}); res != want {
		t.Errorf("same ids from another source = %+v, want %+v", res, want)
	}
	if n, _ := db.CountObservations(t.Context()); n != 258 {
		t.Errorf("CountObservations = %d, want 258", n)
	}
	if res, want := ingest(t, db, "usgs", monitor.Batch{}), (monitor.IngestResult{}); res != want {
		t.Errorf("empty batch = %+v, want %+v", res, want)
	}
}

// fullObservation has every stored field set.
func fullObservation(id string) monitor.Observation {
	return monitor.Observation{
		ID: id, Time: t0.Add(1500 * time.Millisecond), Point: orb.Point{131.9, 43.1},
		Geometry: orb.Polygon{{{131, 43}, {132, 43}, {132, 44}, {131, 43}}},
		Place:    "Vladivostok", Kind: "fire", Title: "Fire near the port", URL: "https://example.org/1", Weight: 2.5,
		Precision: monitor.PrecisionCity,
		// Not in a canonical form (keys unsorted, spaces, an escape, 2.50, a
		// repeated key): stored as sent, byte for byte.
		Properties: json.RawMessage(`{"mag": 4.5, "place":"x\u00e9","a":[1,2.50,"z"],"n":null,"mag":4.6}`),
	}
}

// testUpdates changes one field at a time: each change is an update that
// keeps the row's fid and first ingestion time and shows every field as sent;
// the same content again is unchanged.
func testUpdates(t *testing.T, db store.Backend) {
	base := fullObservation("u1")
	first := t0.Add(time.Hour)
	if res := ingestAt(t, db, "src", monitor.Batch{Observations: []monitor.Observation{base}}, first); res.Added != 1 {
		t.Fatalf("first ingest = %+v", res)
	}
	stored := byID(t, db, "src", "u1")
	fid := stored.FID
	for i, tc := range []struct {
		name string
		edit func(*monitor.Observation)
	}{
		{"title", func(o *monitor.Observation) { o.Title = "Fire out" }},
		{"place", func(o *monitor.Observation) { o.Place = "Nakhodka" }},
		{"no place", func(o *monitor.Observation) { o.Place = "" }},
		{"url", func(o *monitor.Observation) { o.URL = "https://example.org/2" }},
		{"kind", func(o *monitor.Observation) { o.Kind = "smoke" }},
		{"weight", func(o *monitor.Observation) { o.Weight = 7 }},
		{"precision", func(o *monitor.Observation) { o.Precision = monitor.PrecisionCountry }},
		{"properties", func(o *monitor.Observation) { o.Properties = json.RawMessage(`{"mag":4.6}`) }},
		{"no properties", func(o *monitor.Observation) { o.Properties = nil }},
		{"geometry", func(o *monitor.Observation) {
			o.Geometry = orb.LineString{{131, 43}, {132, 44}}
		}},
		{"no geometry", func(o *monitor.Observation) { o.Geometry = nil }},
		{"point", func(o *monitor.Observation) { o.Point = orb.Point{-170.5, -33.25} }},
		{"time", func(o *monitor.Observation) { o.Time = o.Time.Add(36 * time.Hour) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.edit(&o)
			now := first.Add(time.Duration(i+1) * time.Hour)
			res := ingestAt(t, db, "src", monitor.Batch{Observations: []monitor.Observation{o}}, now)
			if want := (monitor.IngestResult{Seen: 1, Updated: 1}); res != want {
				t.Errorf("changed %s: %+v, want %+v", tc.name, res, want)
			}
			got := byID(t, db, "src", "u1")
			want := o
			want.FID, want.Source, want.Ingested = fid, "src", first
			if g, w := fmt.Sprintf("%+v", normObservation(got)), fmt.Sprintf("%+v", normObservation(want)); g != w {
				t.Errorf("after changing %s:\n got %s\nwant %s", tc.name, g, w)
			}
			res = ingestAt(t, db, "src", monitor.Batch{Observations: []monitor.Observation{o}}, now.Add(time.Minute))
			if want := (monitor.IngestResult{Seen: 1, Unchanged: 1}); res != want {
				t.Errorf("same content again: %+v, want %+v", res, want)
			}
			base = o
		})
	}
	if n, _ := db.CountObservations(t.Context()); n != 1 {
		t.Errorf("CountObservations = %d, want 1", n)
	}
}

// testDuplicatesInBatch: a record twice in one batch is stored once; a later
// revision of it in the same batch wins and counts as an update.
func testDuplicatesInBatch(t *testing.T, db store.Backend) {
	a := obs("dup", 10, 10, t0)
	a2 := a
	a2.Title = "revised"
	b := obs("other", 11, 11, t0)
	res := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{a, b, a, a2}})
	if want := (monitor.IngestResult{Seen: 4, Added: 2, Unchanged: 1, Updated: 1}); res != want {
		t.Errorf("Ingest = %+v, want %+v", res, want)
	}
	if n, _ := db.CountObservations(t.Context()); n != 2 {
		t.Errorf("rows = %d, want 2", n)
	}
	if got := byID(t, db, "s", "dup"); got.Title != "revised" {
		t.Errorf("title = %q, want the last revision", got.Title)
	}
	// Against a stored row: unchanged twice, then changed twice.
	a3 := a2
	a3.Title = "third"
	res = ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{a2, a2, a3, a}})
	if want := (monitor.IngestResult{Seen: 4, Unchanged: 2, Updated: 2}); res != want {
		t.Errorf("duplicates of a stored row = %+v, want %+v", res, want)
	}
	if got := byID(t, db, "s", "dup"); got.Title != "" {
		t.Errorf("title = %q, want the last record's (none)", got.Title)
	}
}

// testRejects: invalid observations and the parser's rejects are counted,
// never fail the batch, are not stored as observations, and are kept (Prune
// counts them).
func testRejects(t *testing.T, db store.Backend) {
	good := obs("good", 1, 1, t0)
	badLat := obs("bad-lat", 1, 91, t0)
	badLon := obs("bad-lon", -180.5, 1, t0)
	noID := obs("", 1, 1, t0)
	noTime := obs("no-time", 1, 1, time.Time{})
	badProps := obs("bad-props", 1, 1, t0)
	badProps.Properties = json.RawMessage(`{"mag":`)
	badUTF8 := obs("bad-utf8", 1, 1, t0)
	badUTF8.Title = "caf\xe9"
	negWeight := obs("neg-weight", 1, 1, t0)
	negWeight.Weight = -1
	nanLat := obs("nan", 1, math.NaN(), t0)
	ctrlID := obs("a\nb", 1, 1, t0)
	longID := obs(strings.Repeat("x", monitor.MaxIDBytes+1), 1, 1, t0)
	b := monitor.Batch{
		Observations: []monitor.Observation{good, badLat, badLon, noID, noTime, badProps, badUTF8, negWeight, nanLat, ctrlID, longID},
		Rejects: []monitor.Reject{
			{Record: "line 42", Field: "time", Err: fmt.Errorf("%w: %q", monitor.ErrBadTime, "yesterday"), Raw: "x,yesterday"},
			{Record: "line 43"}, // no reason, no raw
			{Record: "line 44", Field: "lat", Err: monitor.ErrMissing, Raw: strings.Repeat("r", monitor.MaxRawBytes+100)},
		},
	}
	rejectedAt := t0.Add(-time.Hour)
	res := ingestAt(t, db, "feed", b, rejectedAt)
	if want := (monitor.IngestResult{Seen: 14, Added: 1, Rejected: 13}); res != want {
		t.Errorf("Ingest = %+v, want %+v", res, want)
	}
	got := queryAll(t, db, store.QueryFilter{})
	if len(got) != 1 || got[0].ID != "good" {
		t.Errorf("stored = %+v, want only the good one", got)
	}
	// Only rejects: nothing stored, all counted.
	res = ingestAt(t, db, "feed", monitor.Batch{Rejects: b.Rejects[:1]}, rejectedAt)
	if want := (monitor.IngestResult{Seen: 1, Rejected: 1}); res != want {
		t.Errorf("a batch of rejects = %+v, want %+v", res, want)
	}
	pr, err := db.Prune(t.Context(), rejectedAt.Add(time.Millisecond), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.PruneResult{Rejects: 14}); pr != want {
		t.Errorf("Prune past the rejects = %+v, want %+v (the rejects were kept)", pr, want)
	}
}

// testNormalize: the store normalises before it validates, and leaves the
// caller's batch as it was.
func testNormalize(t *testing.T, db store.Backend) {
	loc := time.FixedZone("UTC+9", 9*3600)
	o := obs("n1", 131.9, 43.1, t0.In(loc).Add(250*time.Millisecond))
	o.Weight = 0 // unset: 1
	o.Title = "a\x00b\x1bc\td\ne"
	o.Place = "p\rq"
	batch := []monitor.Observation{o}
	ingest(t, db, "s", monitor.Batch{Observations: batch})
	if batch[0].Weight != 0 || batch[0].Title != o.Title || batch[0].Time.Location() != loc {
		t.Errorf("the caller's batch was changed: %+v", batch[0])
	}
	got := byID(t, db, "s", "n1")
	if got.Weight != 1 {
		t.Errorf("weight = %v, want 1", got.Weight)
	}
	if want := "a\uFFFDb\uFFFDc\td\ne"; got.Title != want {
		t.Errorf("title = %q, want %q", got.Title, want)
	}
	if want := "p\uFFFDq"; got.Place != want {
		t.Errorf("place = %q, want %q", got.Place, want)
	}
	if !got.Time.Equal(t0.Add(250*time.Millisecond)) || got.Time.Location() != time.UTC {
		t.Errorf("time = %v, want %v in UTC", got.Time, t0.Add(250*time.Millisecond))
	}
	// Sub-millisecond time: stored to the millisecond, and the same record
	// again is unchanged.
	p := obs("n2", 1, 1, t0.Add(1234567*time.Nanosecond))
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{p}})
	if got := byID(t, db, "s", "n2"); !got.Time.Equal(t0.Add(time.Millisecond)) {
		t.Errorf("time = %v, want %v (truncated to the millisecond)", got.Time, t0.Add(time.Millisecond))
	}
	if res := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{p}}); res.Unchanged != 1 {
		t.Errorf("sub-millisecond record again = %+v, want unchanged", res)
	}
}

// testRevisions: a record with a revision time older than the stored one's
// leaves the row as it is; a newer one replaces it, and so does one without
// a revision time.
func testRevisions(t *testing.T, db store.Backend) {
	o := obs("r1", 5, 5, t0)
	o.Title, o.Revised = "rev 2", t0.Add(2*time.Hour)
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{o}})

	older := o
	older.Title, older.Revised = "rev 1", t0.Add(time.Hour)
	if res, want := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{older}}), (monitor.IngestResult{Seen: 1, Unchanged: 1}); res != want {
		t.Errorf("older revision = %+v, want %+v", res, want)
	}
	if got := byID(t, db, "s", "r1"); got.Title != "rev 2" {
		t.Errorf("after an older revision: title %q, want rev 2", got.Title)
	}
	same := o
	same.Revised = t0.Add(3 * time.Hour) // same content, newer revision
	if res, want := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{same}}), (monitor.IngestResult{Seen: 1, Updated: 1}); res != want {
		t.Errorf("newer revision, same content = %+v, want %+v", res, want)
	}
	// Now stored at +3h: +2h30 is older.
	older.Revised = t0.Add(150 * time.Minute)
	if res := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{older}}); res.Unchanged != 1 {
		t.Errorf("revision older than the last stored = %+v, want unchanged", res)
	}
	newer := o
	newer.Title, newer.Revised = "rev 4", t0.Add(4*time.Hour)
	if res, want := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{newer}}), (monitor.IngestResult{Seen: 1, Updated: 1}); res != want {
		t.Errorf("newer revision = %+v, want %+v", res, want)
	}
	if got := byID(t, db, "s", "r1"); got.Title != "rev 4" {
		t.Errorf("after a newer revision: title %q, want rev 4", got.Title)
	}
	none := o
	none.Title, none.Revised = "no revision", time.Time{}
	if res := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{none}}); res.Updated != 1 {
		t.Errorf("changed record without a revision time = %+v, want updated", res)
	}
	if got := byID(t, db, "s", "r1"); got.Title != "no revision" {
		t.Errorf("title %q, want no revision", got.Title)
	}
	// The stored revision time stays: an older one is still refused.
	older.Title, older.Revised = "rev 1 again", t0.Add(time.Hour)
	if res := ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{older}}); res.Unchanged != 1 {
		t.Errorf("older revision after one without = %+v, want unchanged", res)
	}
}

// testNamespaces: sources that share an id namespace share one row per id,
// which keeps the source that first stored it; a source without it has its
// own ids.
func testNamespaces(t *testing.T, db store.Backend) {
	week := []monitor.Observation{obs("us1", 1, 1, t0), obs("us2", 2, 2, t0), obs("us3", 3, 3, t0)}
	res := ingest(t, db, "usgs-week", monitor.Batch{Namespace: "usgs", Observations: week})
	if want := (monitor.IngestResult{Seen: 3, Added: 3}); res != want {
		t.Errorf("week = %+v, want %+v", res, want)
	}
	day := []monitor.Observation{week[1], week[2]}
	day[1].Title = "revised by the day feed"
	res = ingest(t, db, "usgs-day", monitor.Batch{Namespace: "usgs", Observations: append(day, obs("us4", 4, 4, t0))})
	if want := (monitor.IngestResult{Seen: 3, Added: 1, Updated: 1, Unchanged: 1}); res != want {
		t.Errorf("day in the same namespace = %+v, want %+v", res, want)
	}
	if n, _ := db.CountObservations(t.Context()); n != 4 {
		t.Errorf("CountObservations = %d, want 4", n)
	}
	if got := byID(t, db, "usgs-week", "us3"); got.Title != "revised by the day feed" {
		t.Errorf("us3 title = %q, want the day feed's, under the week's source", got.Title)
	}
	ctx := t.Context()
	if _, ok, err := db.ObservedAt(ctx, "usgs-week", "us3"); err != nil || !ok {
		t.Errorf("ObservedAt(usgs-week, us3) = %v, %v; want found", ok, err)
	}
	if _, ok, err := db.ObservedAt(ctx, "usgs-day", "us3"); err != nil || ok {
		t.Errorf("ObservedAt(usgs-day, us3) = %v, %v; want not found (the row keeps its source)", ok, err)
	}
	if _, ok, _ := db.ObservedAt(ctx, "usgs-day", "us4"); !ok {
		t.Error("ObservedAt(usgs-day, us4): not found")
	}
	res = ingest(t, db, "usgs-alone", monitor.Batch{Observations: day})
	if want := (monitor.IngestResult{Seen: 2, Added: 2}); res != want {
		t.Errorf("same ids without the namespace = %+v, want %+v", res, want)
	}
	res = ingest(t, db, "other-ns", monitor.Batch{Namespace: "emsc", Observations: day})
	if want := (monitor.IngestResult{Seen: 2, Added: 2}); res != want {
		t.Errorf("same ids in another namespace = %+v, want %+v", res, want)
	}
	if n, _ := db.CountObservations(ctx); n != 8 {
		t.Errorf("CountObservations = %d, want 8", n)
	}
}

// testReconciliation: with every batch's result recorded as a check run, the
// sources table reconciles with itself (seen = added + updated + unchanged +
// rejected) and with the observations (added = rows stored), also after a
// restart.
func (c *contract) testReconciliation(t *testing.T, db store.Backend) {
	ctx := t.Context()
	mk := func(prefix string, n int, title string) []monitor.Observation {
		var b []monitor.Observation
		for i := range n {
			o := obs(fmt.Sprintf("%s%d", prefix, i), float64(i%360)-179.5, float64(i%170)-84.5, t0.Add(time.Duration(i)*time.Minute))
			o.Title = title
			b = append(b, o)
		}
		return b
	}
	bad := obs("bad", 0, 100, t0)
	runs := []struct {
		source string
		b      monitor.Batch
	}{
		{"a", monitor.Batch{Observations: mk("a", 300, "")}},
		{"b", monitor.Batch{Observations: append(mk("b", 100, ""), bad), Rejects: []monitor.Reject{{Record: "line 1"}}}},
		{"a", monitor.Batch{Observations: append(mk("a", 200, "v2"), mk("x", 50, "")...)}},
		{"b", monitor.Batch{Observations: mk("b", 150, "")}},
		{"a", monitor.Batch{Observations: mk("a", 400, "v2")}},
	}
	want := map[string]monitor.IngestResult{}
	for i, r := range runs {
		res := ingest(t, db, r.source, r.b)
		w := want[r.source]
		w.Add(res)
		want[r.source] = w
		if err := db.RecordCheck(ctx, monitor.CheckRun{Source: r.source, Type: "geojson",
			Started: t0.Add(time.Duration(i) * time.Minute), Duration: time.Second, Result: res}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(t *testing.T, db store.Backend) {
		ss, err := db.Sources(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ss) != 2 {
			t.Fatalf("Sources = %d rows, want 2", len(ss))
		}
		var added int64
		for _, s := range ss {
			tot := s.Total
			if tot != want[s.Name] {
				t.Errorf("source %s totals %+v, want %+v", s.Name, tot, want[s.Name])
			}
			if tot.Seen != tot.Added+tot.Updated+tot.Unchanged+tot.Rejected {
				t.Errorf("source %s totals %+v: seen != added+updated+unchanged+rejected", s.Name, tot)
			}
			if n := len(queryAll(t, db, store.QueryFilter{Sources: []string{s.Name}})); n != tot.Added {
				t.Errorf("source %s: %d rows stored, totals say %d added", s.Name, n, tot.Added)
			}
			added += int64(tot.Added)
		}
		if n, err := db.CountObservations(ctx); err != nil || n != added {
			t.Errorf("CountObservations = %d, %v; want %d, the sum of added", n, err, added)
		}
	}
	// a: 300 added; then 200 updated and 50 added; then 200 unchanged
	// (already v2), 100 updated and 100 added.
	if w := want["a"]; w != (monitor.IngestResult{Seen: 950, Added: 450, Updated: 300, Unchanged: 200}) {
		t.Errorf("source a counted %+v", w)
	}
	if w := want["b"]; w != (monitor.IngestResult{Seen: 252, Added: 150, Unchanged: 100, Rejected: 2}) {
		t.Errorf("source b counted %+v", w)
	}
	check(t, db)
	db = c.reopen(t, db)
	t.Run("after restart", func(t *testing.T) { check(t, db) })
}

// testIngestCancelled: a batch whose context is cancelled before it commits
// fails and stores nothing (acknowledged means committed); nor does a
// cancelled SaveAlerts store anything.
func testIngestCancelled(t *testing.T, db store.Backend) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b := monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 1, t0), obs("b", 2, 2, t0)},
		Rejects: []monitor.Reject{{Record: "line 1"}}}
	if _, err := db.Ingest(ctx, "s", b, t0); err == nil {
		t.Error("Ingest with a cancelled context succeeded")
	}
	if n, err := db.CountObservations(t.Context()); err != nil || n != 0 {
		t.Errorf("CountObservations = %d, %v; want 0", n, err)
	}
	if pr, err := db.Prune(t.Context(), t0.Add(time.Hour), 0); err != nil || pr != (store.PruneResult{}) {
		t.Errorf("Prune = %+v, %v; want nothing stored to prune", pr, err)
	}
	a := testAlert()
	tr := monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &a, Transition: &tr}}); err == nil {
		t.Error("SaveAlerts with a cancelled context succeeded")
	}
	if a.ID != 0 || tr.ID != 0 {
		t.Errorf("ids set by a cancelled SaveAlerts: %d, %d", a.ID, tr.ID)
	}
	if as, err := db.Alerts(t.Context(), store.AlertFilter{}); err != nil || len(as) != 0 {
		t.Errorf("Alerts = %v, %v; want none", as, err)
	}
	// The store is still usable.
	if res := ingest(t, db, "s", b); res != (monitor.IngestResult{Seen: 3, Added: 2, Rejected: 1}) {
		t.Errorf("Ingest after the cancelled one = %+v", res)
	}
	if err := db.Ping(t.Context()); err != nil {
		t.Errorf("Ping after a cancelled ingest = %v", err)
	}
}
