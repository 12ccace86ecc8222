package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
)

// callerSource is what the test puts in every record's Source, to see that
// the store leaves it alone on a record that wrote nothing.
const callerSource = "caller's"

// ingestWritten stores obs (each with FID 0 and Source callerSource) as one
// batch and returns the batch's observations after the call: the store's
// report of the rows they wrote. Everything else in them must be as it was.
func ingestWritten(t *testing.T, db store.Backend, source, ns string, obs ...monitor.Observation) ([]monitor.Observation, monitor.IngestResult) {
	t.Helper()
	in := make([]monitor.Observation, len(obs))
	for i, o := range obs {
		o.FID, o.Source = 0, callerSource
		in[i] = o
	}
	before := append([]monitor.Observation(nil), in...)
	res := ingest(t, db, source, monitor.Batch{Namespace: ns, Observations: in})
	for i := range in {
		got, want := in[i], before[i]
		got.FID, got.Source = 0, callerSource
		if !reflect.DeepEqual(got, want) {
			t.Errorf("record %d: Ingest changed more than FID and Source:\n got %+v\nwant %+v", i, in[i], before[i])
		}
	}
	return in, res
}

// wrote is the expectation for one record: nothing written (source ""), or
// the row of (source, id) as stored now.
type wrote struct{ source, id string }

// checkWritten compares the FID and Source reported for each record with
// want, and the fids of the rows with what the store reads back.
func checkWritten(t *testing.T, db store.Backend, label string, got []monitor.Observation, want []wrote) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", label, len(got), len(want))
	}
	var fids []int64
	for i, w := range want {
		o := got[i]
		if w.source == "" {
			if o.FID != 0 || o.Source != callerSource {
				t.Errorf("%s: record %d (%s) wrote nothing but has FID %d, Source %q; want 0, %q",
					label, i, o.ID, o.FID, o.Source, callerSource)
			}
			continue
		}
		stored := byID(t, db, w.source, w.id)
		if o.FID != stored.FID || o.Source != w.source || o.FID == 0 {
			t.Errorf("%s: record %d (%s) has FID %d, Source %q; want the row's %d, %q",
				label, i, o.ID, o.FID, o.Source, stored.FID, w.source)
		}
		fids = append(fids, o.FID)
	}
	if len(fids) == 0 {
		return
	}
	rows, err := db.ObservationsByFID(t.Context(), fids)
	if err != nil {
		t.Fatalf("%s: ObservationsByFID: %v", label, err)
	}
	byFID := make(map[int64]monitor.Observation, len(rows))
	for _, r := range rows {
		byFID[r.FID] = r
	}
	for i, w := range want {
		if w.source == "" {
			continue
		}
		if r, ok := byFID[got[i].FID]; !ok || r.Source != w.source || r.ID != w.id {
			t.Errorf("%s: record %d: ObservationsByFID(%d) = %s/%s (found %v), want %s/%s",
				label, i, got[i].FID, r.Source, r.ID, ok, w.source, w.id)
		}
	}
}

// testIngestReportsWrittenRows: after Ingest, each record that added or
// updated a row has that row's FID and Source (for an id namespace, the
// source that stored it first); one that wrote nothing (unchanged, an older
// revision, rejected) keeps FID 0 and its Source; records for one id that
// wrote share the fid.
func testIngestReportsWrittenRows(t *testing.T, db store.Backend) {
	// All new: distinct fids, one per record.
	var batch []monitor.Observation
	var want []wrote
	for i := range 20 {
		id := fmt.Sprintf("n%02d", i)
		batch = append(batch, obs(id, float64(i), 1, t0))
		want = append(want, wrote{"s", id})
	}
	got, _ := ingestWritten(t, db, "s", "", batch...)
	checkWritten(t, db, "new batch", got, want)
	seen := map[int64]bool{}
	for i, o := range got {
		if seen[o.FID] {
			t.Errorf("new batch: record %d has fid %d again", i, o.FID)
		}
		seen[o.FID] = true
	}

	// The same again: nothing written.
	got, res := ingestWritten(t, db, "s", "", batch...)
	if res.Unchanged != len(batch) {
		t.Errorf("same batch = %+v, want all unchanged", res)
	}
	checkWritten(t, db, "same batch", got, make([]wrote, len(batch)))

	// Mixed: changed, unchanged, new, rejected, and two records for one id
	// that both write (new, then changed), and one that does not (the same
	// again).
	changed := batch[3]
	changed.Title = "changed"
	bad := obs("bad", 1, 91, t0)
	dup := obs("dup", 7, 7, t0)
	dup2 := dup
	dup2.Title = "second"
	mixed := []monitor.Observation{changed, batch[4], obs("m1", 5, 5, t0), bad, dup, dup2, dup2, obs("m2", 6, 6, t0)}
	got, res = ingestWritten(t, db, "s", "", mixed...)
	if want := (monitor.IngestResult{Seen: 8, Added: 3, Updated: 2, Unchanged: 2, Rejected: 1}); res != want {
		t.Errorf("mixed batch = %+v, want %+v", res, want)
	}
	checkWritten(t, db, "mixed batch", got, []wrote{{"s", "n03"}, {}, {"s", "m1"}, {}, {"s", "dup"}, {"s", "dup"}, {}, {"s", "m2"}})
	if got[3].FID != 0 {
		t.Errorf("rejected record has FID %d", got[3].FID)
	}
	if got[0].FID != byID(t, db, "s", "n03").FID || got[0].FID == 0 {
		t.Error("the changed record's fid is not its stored row's")
	}
	if byID(t, db, "s", "dup").Title != "second" {
		t.Error("dup: the last record that wrote does not hold the row")
	}

	// Revisions: a newer one writes, an older one than stored does not.
	r := obs("rev", 8, 8, t0)
	r.Title, r.Revised = "rev 2", t0.Add(2*time.Hour)
	got, _ = ingestWritten(t, db, "s", "", r)
	checkWritten(t, db, "revision", got, []wrote{{"s", "rev"}})
	older := r
	older.Title, older.Revised = "rev 1", t0.Add(time.Hour)
	got, res = ingestWritten(t, db, "s", "", older)
	if res.Unchanged != 1 {
		t.Errorf("older revision = %+v, want unchanged", res)
	}
	checkWritten(t, db, "older revision", got, []wrote{{}})
	newer := r
	newer.Title, newer.Revised = "rev 3", t0.Add(3*time.Hour)
	got, _ = ingestWritten(t, db, "s", "", older, newer)
	checkWritten(t, db, "older then newer revision", got, []wrote{{}, {"s", "rev"}})

	// An id namespace: the day feed's records update the week feed's rows,
	// which keep their source; its new record is its own.
	week := []monitor.Observation{obs("us1", 1, 1, t0), obs("us2", 2, 2, t0)}
	got, _ = ingestWritten(t, db, "usgs-week", "usgs", week...)
	checkWritten(t, db, "week", got, []wrote{{"usgs-week", "us1"}, {"usgs-week", "us2"}})
	us2 := week[1]
	us2.Title = "revised by the day feed"
	got, res = ingestWritten(t, db, "usgs-day", "usgs", week[0], us2, obs("us3", 3, 3, t0))
	if want := (monitor.IngestResult{Seen: 3, Added: 1, Updated: 1, Unchanged: 1}); res != want {
		t.Errorf("day = %+v, want %+v", res, want)
	}
	checkWritten(t, db, "day", got, []wrote{{}, {"usgs-week", "us2"}, {"usgs-day", "us3"}})
	// Two records for a namespaced id stored by the other source, both
	// writing, in a batch with a new one.
	a, b := week[0], week[0]
	a.Title, b.Title = "day 1", "day 2"
	got, _ = ingestWritten(t, db, "usgs-day", "usgs", a, obs("us4", 4, 4, t0), b)
	checkWritten(t, db, "day twice", got, []wrote{{"usgs-week", "us1"}, {"usgs-day", "us4"}, {"usgs-week", "us1"}})
	if byID(t, db, "usgs-week", "us1").Title != "day 2" {
		t.Error("us1: the last record that wrote does not hold the row")
	}
}
