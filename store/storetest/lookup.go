package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
)

func (c *contract) lookupTests() []subtest {
	return []subtest{
		{"ObservationsByFID", testObservationsByFID},
		{"ObservedAt", testObservedAt},
		{"CountAndLatest", testCountAndLatest},
	}
}

// testObservationsByFID: the stored ones among the fids, every field, in
// (time, fid) order; unknown fids left out.
func testObservationsByFID(t *testing.T, db store.Backend) {
	ctx := t.Context()
	var batch []monitor.Observation
	for i := range 20 {
		o := obs(fmt.Sprintf("f%02d", i), float64(i), float64(i), t0.Add(time.Duration(20-i)*time.Minute))
		if i%4 == 0 {
			o.Time = t0 // several at one time: fid orders them
		}
		o.Title = "t" + o.ID
		batch = append(batch, o)
	}
	ingest(t, db, "s", monitor.Batch{Observations: batch})
	all := queryAll(t, db, store.QueryFilter{})
	fids := make([]int64, len(all))
	for i, o := range all {
		fids[i] = o.FID
	}
	if got, err := db.ObservationsByFID(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("ObservationsByFID(nil) = %v, %v; want none", got, err)
	}
	if got, err := db.ObservationsByFID(ctx, []int64{}); err != nil || len(got) != 0 {
		t.Errorf("ObservationsByFID([]) = %v, %v; want none", got, err)
	}
	// Reversed, with a duplicate and fids that were never stored.
	ask := slices.Clone(fids)
	slices.Reverse(ask)
	ask = append(ask, fids[3], -1, 0, slices.Max(fids)+1000)
	got, err := db.ObservationsByFID(ctx, ask)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", all) {
		t.Errorf("ObservationsByFID(all, reversed, with unknown ids):\n got %+v\nwant %+v", got, all)
	}
	some := []int64{fids[7], fids[2], fids[15]}
	got, err = db.ObservationsByFID(ctx, some)
	if err != nil {
		t.Fatal(err)
	}
	if want := []monitor.Observation{all[2], all[7], all[15]}; fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Errorf("ObservationsByFID(%v):\n got %+v\nwant %+v", some, got, want)
	}
	// Pruned fids are left out.
	if _, err := db.Prune(ctx, t0.Add(time.Millisecond), 0); err != nil {
		t.Fatal(err)
	}
	got, err = db.ObservationsByFID(ctx, fids)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got {
		if !o.Time.After(t0) {
			t.Errorf("pruned observation %s returned", o.ID)
		}
	}
	if len(got) != 15 {
		t.Errorf("after Prune: %d observations, want 15", len(got))
	}
}

// testObservedAt: by (source, id), false for none.
func testObservedAt(t *testing.T, db store.Backend) {
	ctx := t.Context()
	at := t0.Add(1234 * time.Millisecond)
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 1, at), obs("b", 1, 1, t0)}})
	ingest(t, db, "other", monitor.Batch{Observations: []monitor.Observation{obs("a", 1, 1, t0.Add(time.Hour))}})
	got, ok, err := db.ObservedAt(ctx, "s", "a")
	if err != nil || !ok || !got.Equal(at) || got.Location() != time.UTC {
		t.Errorf("ObservedAt(s, a) = %v, %v, %v; want %v in UTC", got, ok, err, at)
	}
	if got, ok, err := db.ObservedAt(ctx, "other", "a"); err != nil || !ok || !got.Equal(t0.Add(time.Hour)) {
		t.Errorf("ObservedAt(other, a) = %v, %v, %v; want %v", got, ok, err, t0.Add(time.Hour))
	}
	for _, k := range [][2]string{{"s", "c"}, {"nobody", "a"}, {"", ""}, {"other", "b"}} {
		if got, ok, err := db.ObservedAt(ctx, k[0], k[1]); err != nil || ok || !got.IsZero() {
			t.Errorf("ObservedAt(%s, %s) = %v, %v, %v; want zero, false", k[0], k[1], got, ok, err)
		}
	}
	// An update moves it.
	moved := obs("a", 1, 1, at.Add(time.Minute))
	ingest(t, db, "s", monitor.Batch{Observations: []monitor.Observation{moved}})
	if got, _, _ := db.ObservedAt(ctx, "s", "a"); !got.Equal(moved.Time) {
		t.Errorf("ObservedAt after an update = %v, want %v", got, moved.Time)
	}
}

// testCountAndLatest: CountObservations and the highest fid and transition
// id as they grow.
func testCountAndLatest(t *testing.T, db store.Backend) {
	ctx := t.Context()
	var batch []monitor.Observation
	for i := range 30 {
		batch = append(batch, obs(fmt.Sprintf("c%d", i), 1, 1, t0.Add(time.Duration(i)*time.Second)))
	}
	ingest(t, db, "s", monitor.Batch{Observations: batch[:10]})
	n, err := db.CountObservations(ctx)
	if err != nil || n != 10 {
		t.Errorf("CountObservations = %d, %v; want 10", n, err)
	}
	fid1, tr, err := db.Latest(ctx)
	if err != nil || tr != 0 {
		t.Fatalf("Latest = %d, %d, %v", fid1, tr, err)
	}
	maxFID := func() int64 {
		var m int64
		for _, o := range queryAll(t, db, store.QueryFilter{}) {
			m = max(m, o.FID)
		}
		return m
	}
	if m := maxFID(); fid1 != m {
		t.Errorf("Latest fid = %d, want %d, the highest stored", fid1, m)
	}
	ingest(t, db, "s", monitor.Batch{Observations: batch})
	fid2, _, _ := db.Latest(ctx)
	if m := maxFID(); fid2 != m || fid2 <= fid1 {
		t.Errorf("Latest fid after adding = %d, want %d (> %d)", fid2, m, fid1)
	}
	if n, _ := db.CountObservations(ctx); n != 30 {
		t.Errorf("CountObservations = %d, want 30", n)
	}
	// An update or a re-ingest adds no fid.
	batch[0].Title = "changed"
	ingest(t, db, "s", monitor.Batch{Observations: batch})
	if fid3, _, _ := db.Latest(ctx); fid3 != fid2 {
		t.Errorf("Latest fid after an update = %d, want %d", fid3, fid2)
	}
	a := testAlert()
	tr1 := monitor.Transition{At: t0, To: monitor.StateFiring}
	saveChange(t, db, &a, &tr1)
	if f, tr, _ := db.Latest(ctx); f != fid2 || tr != tr1.ID {
		t.Errorf("Latest = %d, %d; want %d, %d", f, tr, fid2, tr1.ID)
	}
	a.State, a.EndsAt, a.UpdatedAt = monitor.StateResolved, t0.Add(time.Hour), t0.Add(time.Hour)
	tr2 := monitor.Transition{At: t0.Add(time.Hour), From: monitor.StateFiring, To: monitor.StateResolved}
	saveChange(t, db, &a, &tr2)
	if _, tr, _ := db.Latest(ctx); tr != tr2.ID || tr2.ID <= tr1.ID {
		t.Errorf("Latest transition = %d, want %d (> %d)", tr, tr2.ID, tr1.ID)
	}
}
