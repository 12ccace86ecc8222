package sqlite

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

func testAlert() monitor.Alert {
	return monitor.Alert{
		Watch: "vladivostok", Rule: "quakes", RuleType: "count", Severity: monitor.SeverityWarning,
		State: monitor.StateFiring, RadiusMeters: 50e3, Window: 24 * time.Hour,
		StartsAt: t0, UpdatedAt: t0,
		Finding: monitor.Finding{Count: 3, Weight: 3, Center: orb.Point{131.9, 43.1},
			FirstSeen: t0.Add(-time.Hour), LastSeen: t0, FIDs: []int64{1, 2, 3}},
	}
}

func TestAlertLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	db := openTestDB(t, path)
	a := testAlert()
	open := monitor.Transition{At: t0, To: monitor.StateFiring}
	if err := db.SaveTransition(t.Context(), &a, &open); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || open.ID == 0 || open.AlertID != a.ID {
		t.Fatalf("ids not set: alert %d, transition %+v", a.ID, open)
	}
	// A cluster finding: the hull becomes the geometry and survives a restart.
	a.Finding.Hull = orb.Polygon{{{131.8, 43}, {132, 43}, {132, 43.2}, {131.8, 43}}}
	a.Finding.Count, a.UpdatedAt = 4, t0.Add(time.Minute)
	if err := db.UpdateAlert(t.Context(), &a); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTestDB(t, path) // restart
	got, err := db.OpenAlerts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || fmt.Sprint(got[0]) != fmt.Sprint(a) {
		t.Fatalf("OpenAlerts after restart:\n got %+v\nwant %+v", got, a)
	}
	if shape := queryString(t, db, `SELECT shape FROM alerts`); shape != rowcodec.ShapeHull {
		t.Errorf("shape = %q, want hull", shape)
	}

	resolve := monitor.Transition{At: t0.Add(time.Hour), From: monitor.StateFiring, To: monitor.StateResolved}
	a.State, a.EndsAt, a.UpdatedAt = monitor.StateResolved, resolve.At, resolve.At
	if err := db.SaveTransition(t.Context(), &a, &resolve); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.OpenAlerts(t.Context()); len(got) != 0 {
		t.Errorf("OpenAlerts after resolve = %d alerts, want none", len(got))
	}
	evs, err := db.UnnotifiedTransitions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Transition != open || evs[1].Transition != resolve {
		t.Fatalf("UnnotifiedTransitions = %+v, want open then resolve", evs)
	}
	if evs[0].Alert.State != monitor.StateFiring || !evs[0].Alert.EndsAt.IsZero() || evs[1].Alert.State != monitor.StateResolved {
		t.Errorf("event alerts: %v/%v then %v, want firing (no end) then resolved",
			evs[0].Alert.State, evs[0].Alert.EndsAt, evs[1].Alert.State)
	}
	if err := db.markOne(t.Context(), open.ID, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if evs, _ := db.UnnotifiedTransitions(t.Context()); len(evs) != 1 || evs[0].Transition.ID != resolve.ID {
		t.Errorf("after MarkNotified: %+v, want only the resolve", evs)
	}
	if err := db.markOne(t.Context(), 999, t0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("MarkNotified(999) = %v, want ErrNotFound", err)
	}
	b := testAlert()
	b.ID = 42
	if err := db.UpdateAlert(t.Context(), &b); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateAlert of a missing alert = %v, want ErrNotFound", err)
	}
	list, err := db.Alerts(t.Context(), store.AlertFilter{Watch: "vladivostok", State: monitor.StateResolved, Limit: 5})
	if err != nil || len(list) != 1 {
		t.Errorf("Alerts = %d, %v, want 1", len(list), err)
	}
	if got := queryString(t, db, `SELECT rtreecheck('rtree_alerts_geom')`); got != "ok" {
		t.Errorf("rtreecheck(alerts) = %q", got)
	}
	if n := queryInt(t, db, `SELECT count(*) FROM rtree_alerts_geom r JOIN alerts a ON a.id = r.id
		WHERE r.minx <= 131.8 AND r.maxx >= 132 AND r.miny <= 43 AND r.maxy >= 43.2`); n != 1 {
		t.Errorf("alert rtree box does not cover the hull")
	}
}

func TestAlertGeometry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*monitor.Alert)
		shape string
		kind  string
	}{
		{"hull", func(a *monitor.Alert) {
			a.Finding.Hull = orb.Polygon{{{1, 1}, {2, 1}, {2, 2}, {1, 1}}}
		}, rowcodec.ShapeHull, "Polygon"},
		{"circle", func(a *monitor.Alert) {}, rowcodec.ShapeCircle, "Polygon"},
		{"point", func(a *monitor.Alert) { a.RadiusMeters = 0 }, rowcodec.ShapePoint, "Point"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testAlert()
			tc.edit(&a)
			g, shape := rowcodec.AlertGeometry(&a)
			blob, err := geometryBlob(g)
			if err != nil {
				t.Fatal(err)
			}
			back, err := decodeBlob(blob)
			if shape != tc.shape || err != nil || back.GeoJSONType() != tc.kind {
				t.Errorf("shape %s, decoded %v (%v), want %s %s", shape, back, err, tc.shape, tc.kind)
			}
			if bd, ok := blobBound(blob); !ok || bd != g.Bound() {
				t.Errorf("blob envelope = %v, want %v", bd, g.Bound())
			}
		})
	}
}

func TestRecordCheck(t *testing.T) {
	db := openTestDB(t, "")
	runs := []monitor.CheckRun{
		{Source: "usgs", Type: "geojson", Started: t0, Duration: 1500 * time.Millisecond,
			Result: monitor.IngestResult{Seen: 10, Added: 8, Unchanged: 1, Rejected: 1}},
		{Source: "usgs", Type: "geojson", Started: t0.Add(time.Minute), Err: errors.New("HTTP 503")},
		{Source: "usgs", Type: "geojson", Started: t0.Add(2 * time.Minute), Err: errors.New("timeout"),
			Result: monitor.IngestResult{Seen: 2, Updated: 2}},
	}
	for _, r := range runs {
		if err := db.RecordCheck(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	ss, err := db.Sources(t.Context())
	if err != nil || len(ss) != 1 {
		t.Fatalf("Sources = %+v, %v", ss, err)
	}
	want := store.SourceStatus{Name: "usgs", Type: "geojson", LastRun: t0.Add(2 * time.Minute), LastSuccess: t0,
		LastError: "timeout", ConsecutiveFailures: 2,
		Last:  monitor.IngestResult{Seen: 2, Updated: 2},
		Total: monitor.IngestResult{Seen: 12, Added: 8, Updated: 2, Unchanged: 1, Rejected: 1}}
	if fmt.Sprint(ss[0]) != fmt.Sprint(want) {
		t.Errorf("Sources:\n got %+v\nwant %+v", ss[0], want)
	}
	if err := db.RecordCheck(t.Context(), runs[0]); err != nil {
		t.Fatal(err)
	}
	if ss, _ := db.Sources(t.Context()); ss[0].ConsecutiveFailures != 0 || ss[0].LastError != "" || ss[0].LastDuration != 1500*time.Millisecond {
		t.Errorf("after a success: %+v", ss[0])
	}
}
