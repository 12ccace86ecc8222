package sqlite

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
)

func TestAddSilence(t *testing.T) {
	db := openTestDB(t, "")
	db.now = func() time.Time { return t0 }
	s := monitor.Silence{Watch: "vladivostok", EndsAt: t0.Add(2 * time.Hour), CreatedBy: "ana", Comment: "drill"}
	if err := db.AddSilence(t.Context(), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID == 0 || !s.StartsAt.Equal(t0) {
		t.Errorf("after AddSilence: id %d, starts %v; want an id and starts %v", s.ID, s.StartsAt, t0)
	}
	s2 := monitor.Silence{Rule: "fires", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(3 * time.Hour)}
	if err := db.AddSilence(t.Context(), &s2); err != nil {
		t.Fatal(err)
	}
	if s2.ID <= s.ID {
		t.Errorf("second id %d, want > %d", s2.ID, s.ID)
	}
	got, err := db.ListSilences(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("ListSilences(all) = %d rows, want 2", len(got))
	}
	g := got[0]
	if g.Silence != s || !g.CreatedAt.Equal(t0) || !g.ExpiredAt.IsZero() {
		t.Errorf("row 0 = %+v, want %+v created %v", g, s, t0)
	}
	if got[1].Watch != "" || got[1].Rule != "fires" || got[1].CreatedBy != "" || got[1].Comment != "" {
		t.Errorf("row 1 = %+v, want empty watch, by, comment", got[1])
	}
	// registered for GeoPackage readers as an attribute table
	if n := queryInt(t, db, `SELECT count(*) FROM gpkg_contents WHERE table_name = 'silences' AND data_type = 'attributes'`); n != 1 {
		t.Errorf("gpkg_contents rows for silences = %d, want 1", n)
	}
}

func TestAddSilenceInvalid(t *testing.T) {
	db := openTestDB(t, "")
	db.now = func() time.Time { return t0 }
	tests := []struct {
		name string
		s    monitor.Silence
	}{
		{"no end", monitor.Silence{Watch: "w"}},
		{"ends at start", monitor.Silence{Watch: "w", StartsAt: t0, EndsAt: t0}},
		{"ends before now", monitor.Silence{Watch: "w", EndsAt: t0.Add(-time.Minute)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := db.AddSilence(t.Context(), &tc.s); !errors.Is(err, store.ErrSilenceEnds) {
				t.Errorf("AddSilence(%+v) = %v, want ErrSilenceEnds", tc.s, err)
			}
			if tc.s.ID != 0 {
				t.Errorf("id set to %d on failure", tc.s.ID)
			}
		})
	}
}

func TestSilencesNotEnded(t *testing.T) {
	db := openTestDB(t, "")
	db.now = func() time.Time { return t0 }
	add := func(s monitor.Silence) int64 {
		t.Helper()
		if err := db.AddSilence(t.Context(), &s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	active := add(monitor.Silence{Watch: "a", EndsAt: t0.Add(time.Hour)})
	pending := add(monitor.Silence{Watch: "b", StartsAt: t0.Add(2 * time.Hour), EndsAt: t0.Add(3 * time.Hour)})
	short := add(monitor.Silence{Watch: "c", EndsAt: t0.Add(time.Minute)})

	tests := []struct {
		name string
		now  time.Time
		want []int64
	}{
		{"at creation", t0, []int64{active, pending, short}},
		{"at the short one's end", t0.Add(time.Minute), []int64{active, pending}},
		{"after the first hour", t0.Add(time.Hour + time.Second), []int64{pending}},
		{"after all", t0.Add(3 * time.Hour), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Silences(t.Context(), tc.now)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, s := range got {
				ids = append(ids, s.ID)
			}
			if !equalIDs(ids, tc.want) {
				t.Errorf("Silences(%v) ids = %v, want %v", tc.now, ids, tc.want)
			}
		})
	}
	db.now = func() time.Time { return t0.Add(90 * time.Minute) }
	got, err := db.ListSilences(t.Context(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != pending {
		t.Errorf("ListSilences(not all) at +90m = %+v, want only %d", got, pending)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestExpireSilence(t *testing.T) {
	db := openTestDB(t, "")
	db.now = func() time.Time { return t0 }
	active := monitor.Silence{Watch: "a", EndsAt: t0.Add(2 * time.Hour)}
	pending := monitor.Silence{Rule: "r", StartsAt: t0.Add(time.Hour), EndsAt: t0.Add(2 * time.Hour)}
	ended := monitor.Silence{Watch: "c", EndsAt: t0.Add(time.Minute)}
	for _, s := range []*monitor.Silence{&active, &pending, &ended} {
		if err := db.AddSilence(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	at := t0.Add(30 * time.Minute)
	for _, id := range []int64{active.ID, pending.ID, ended.ID} {
		if err := db.ExpireSilence(t.Context(), id, at); err != nil {
			t.Fatalf("ExpireSilence(%d) = %v", id, err)
		}
	}
	// a second expiry later keeps the first
	if err := db.ExpireSilence(t.Context(), active.ID, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := db.ExpireSilence(t.Context(), 999, at); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ExpireSilence(999) = %v, want ErrNotFound", err)
	}
	if got, err := db.Silences(t.Context(), at); err != nil || len(got) != 0 {
		t.Errorf("Silences after expiry = %v, %v; want none", got, err)
	}
	rows, err := db.ListSilences(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		starts, ends, expired time.Time
	}{
		{t0, at, at},
		{at, at, at},                           // never started, so it never mutes
		{t0, t0.Add(time.Minute), time.Time{}}, // had ended on its own: unchanged
	}
	for i, w := range want {
		r := rows[i]
		if !r.StartsAt.Equal(w.starts) || !r.EndsAt.Equal(w.ends) || !r.ExpiredAt.Equal(w.expired) {
			t.Errorf("silence %d: starts %v ends %v expired %v; want %v %v %v",
				r.ID, r.StartsAt, r.EndsAt, r.ExpiredAt, w.starts, w.ends, w.expired)
		}
		if r.Matches(monitor.Alert{Watch: r.Watch, Rule: r.Rule}, at) {
			t.Errorf("silence %d still matches at %v", r.ID, at)
		}
	}
}

func TestSilencesReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	rw := openTestDB(t, path)
	s := monitor.Silence{Watch: "a", EndsAt: time.Now().Add(time.Hour)}
	if err := rw.AddSilence(t.Context(), &s); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(t.Context(), path, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if got, err := ro.ListSilences(t.Context(), false); err != nil || len(got) != 1 {
		t.Errorf("read-only ListSilences = %v, %v; want the one silence", got, err)
	}
	if err := ro.AddSilence(t.Context(), &monitor.Silence{Watch: "b", EndsAt: time.Now().Add(time.Hour)}); !errors.Is(err, errReadOnly) {
		t.Errorf("read-only AddSilence = %v, want errReadOnly", err)
	}
	if err := ro.ExpireSilence(t.Context(), s.ID, time.Now()); !errors.Is(err, errReadOnly) {
		t.Errorf("read-only ExpireSilence = %v, want errReadOnly", err)
	}
}
