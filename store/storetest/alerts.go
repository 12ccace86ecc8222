package storetest

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/store"
	"github.com/paulmach/orb"
)

func (c *contract) alertTests() []subtest {
	return []subtest{
		{"Lifecycle", c.testAlertLifecycle},
		{"SaveAtomic", testSaveAtomic},
		{"Filters", testAlertFilters},
		{"Transitions", testTransitions},
		{"Outbox", c.testOutbox},
	}
}

// testAlert is a firing alert with a finding.
func testAlert() monitor.Alert {
	return monitor.Alert{
		Watch: "vladivostok", Rule: "quakes", RuleType: "count", Severity: monitor.SeverityWarning,
		State: monitor.StateFiring, RadiusMeters: 50e3, Window: 24 * time.Hour,
		ActiveAt: t0, StartsAt: t0, UpdatedAt: t0, LastHeldAt: t0,
		Finding: monitor.Finding{Count: 3, Weight: 3, Center: orb.Point{131.9, 43.1},
			FirstSeen: t0.Add(-time.Hour), LastSeen: t0, FIDs: []int64{1, 2, 3}},
	}
}

// saveChange stores one alert change, as SaveAlerts does a whole evaluation's.
func saveChange(t testing.TB, db store.Backend, a *monitor.Alert, tr *monitor.Transition) {
	t.Helper()
	if err := db.SaveAlerts(t.Context(), []monitor.Change{{Alert: a, Transition: tr}}); err != nil {
		t.Fatalf("SaveAlerts(%s/%s): %v", a.Watch, a.Rule, err)
	}
}

// wantAlerts fails unless got is want, alert by alert, at stored precision.
func wantAlerts(t *testing.T, what string, got []monitor.Alert, err error, want ...monitor.Alert) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s = %d alerts, want %d:\n got %v", what, len(got), len(want), got)
	}
	for i := range want {
		if !sameAlert(got[i], want[i]) {
			t.Errorf("%s[%d]:\n got %s\nwant %s", what, i, alertString(got[i]), alertString(want[i]))
		}
	}
}

// testAlertLifecycle: pending → firing → updated → resolved, every field
// round-tripping at each step and across a restart, with the transitions
// and the events a subscriber receives.
func (c *contract) testAlertLifecycle(t *testing.T, db store.Backend) {
	ctx := t.Context()
	a := testAlert()
	a.State, a.StartsAt, a.Severity = monitor.StatePending, time.Time{}, monitor.SeverityCritical
	a.Labels = map[string]string{"team": "ops", "region": "far east"}
	a.Summary = "3 quakes near Vladivostok"
	a.Finding.Stats = map[string]float64{"ratio": math.Inf(1), "low": math.Inf(-1), "p": 0.0125, "odd": math.NaN(), "zero": 0}
	a.Window = 90 * time.Minute
	pending := monitor.Transition{At: t0, To: monitor.StatePending}
	saveChange(t, db, &a, &pending)
	if a.ID == 0 || pending.ID == 0 || pending.AlertID != a.ID {
		t.Fatalf("ids not set: alert %d, transition %+v", a.ID, pending)
	}
	got, err := db.OpenAlerts(ctx)
	wantAlerts(t, "OpenAlerts (pending)", got, err, a)

	// Fires.
	a.State, a.StartsAt, a.UpdatedAt, a.LastHeldAt, a.LastNotifiedAt = monitor.StateFiring, t0.Add(5*time.Minute), t0.Add(5*time.Minute), t0.Add(5*time.Minute), t0.Add(5*time.Minute)
	firing := monitor.Transition{At: t0.Add(5 * time.Minute), From: monitor.StatePending, To: monitor.StateFiring}
	saveChange(t, db, &a, &firing)
	if firing.AlertID != a.ID || firing.ID <= pending.ID {
		t.Errorf("firing transition %+v: want alert %d, id > %d", firing, a.ID, pending.ID)
	}
	got, err = db.OpenAlerts(ctx)
	wantAlerts(t, "OpenAlerts (firing)", got, err, a)

	// Updated without a transition: a cluster hull, a progression, sub-ms times.
	a.Finding.Hull = orb.Polygon{{{131.8, 43}, {132, 43}, {132, 43.2}, {131.8, 43}}}
	a.Finding.Count, a.Finding.Weight, a.Finding.FIDs = 4, 4.5, []int64{1, 2, 3, 9}
	a.Finding.LastSeen = t0.Add(7*time.Minute + 333*time.Millisecond)
	a.Finding.Progression = &monitor.Progression{Direction: "forward", SpeedKmh: 12.5,
		Steps: []monitor.ProgressionStep{{AlongKm: 0, At: t0, Count: 2, Lat: 43, Lon: 131.8, Place: "A", FIDs: []int64{1, 2}},
			{AlongKm: 10.5, At: t0.Add(time.Hour), Count: 1, Lat: 43.1, Lon: 131.9}},
		Next: &monitor.ProgressionStep{AlongKm: 20, At: t0.Add(2 * time.Hour), Lat: 43.2, Lon: 132},
	}
	a.UpdatedAt, a.LastHeldAt = t0.Add(10*time.Minute), t0.Add(10*time.Minute)
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &a}}); err != nil {
		t.Fatal(err)
	}
	got, err = db.OpenAlerts(ctx)
	wantAlerts(t, "OpenAlerts (updated)", got, err, a)

	db = c.reopen(t, db)
	got, err = db.OpenAlerts(ctx)
	wantAlerts(t, "OpenAlerts after a restart", got, err, a)

	// Resolves.
	resolved := monitor.Transition{At: t0.Add(time.Hour), From: monitor.StateFiring, To: monitor.StateResolved}
	a.State, a.EndsAt, a.UpdatedAt = monitor.StateResolved, resolved.At, resolved.At
	saveChange(t, db, &a, &resolved)
	if got, err := db.OpenAlerts(ctx); err != nil || len(got) != 0 {
		t.Errorf("OpenAlerts after resolving = %v, %v; want none", got, err)
	}
	got, err = db.Alerts(ctx, store.AlertFilter{Watch: "vladivostok", State: monitor.StateResolved, Limit: 5})
	wantAlerts(t, "Alerts(resolved)", got, err, a)

	trs, err := db.Transitions(ctx, store.TransitionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	wantTr := []monitor.Transition{pending, firing, resolved}
	if len(trs) != len(wantTr) {
		t.Fatalf("Transitions = %+v, want %d", trs, len(wantTr))
	}
	for i, tr := range trs {
		if tr.Transition != wantTr[i] {
			t.Errorf("transition %d = %+v, want %+v", i, tr.Transition, wantTr[i])
		}
	}
	if !sameTime(trs[0].NotifiedAt, pending.At) || !trs[1].NotifiedAt.IsZero() || !trs[2].NotifiedAt.IsZero() {
		t.Errorf("notified: %v, %v, %v; want the pending one at once, the others not yet",
			trs[0].NotifiedAt, trs[1].NotifiedAt, trs[2].NotifiedAt)
	}

	// The events: the alert as it stands, in the state the transition left.
	evs, err := db.TransitionsAfter(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 {
		t.Fatalf("TransitionsAfter = %d events, want 3", len(evs))
	}
	for i, ev := range evs {
		if ev.Transition != wantTr[i] {
			t.Errorf("event %d transition = %+v, want %+v", i, ev.Transition, wantTr[i])
		}
		if ev.Alert.ID != a.ID || ev.Alert.State != wantTr[i].To {
			t.Errorf("event %d: alert %d in state %v, want %d in %v", i, ev.Alert.ID, ev.Alert.State, a.ID, wantTr[i].To)
		}
	}
	fired := a
	fired.State, fired.EndsAt = monitor.StateFiring, time.Time{}
	if !sameAlert(evs[1].Alert, fired) {
		t.Errorf("firing event's alert:\n got %s\nwant %s", alertString(evs[1].Alert), alertString(fired))
	}
	if !sameAlert(evs[2].Alert, a) {
		t.Errorf("resolved event's alert:\n got %s\nwant %s", alertString(evs[2].Alert), alertString(a))
	}

	// A resolved alert's id is not reused: the next episode is a new alert.
	b := testAlert()
	opened := monitor.Transition{At: t0.Add(2 * time.Hour), To: monitor.StateFiring}
	saveChange(t, db, &b, &opened)
	if b.ID <= a.ID || opened.ID <= resolved.ID {
		t.Errorf("new alert %d transition %d, want ids above %d and %d", b.ID, opened.ID, a.ID, resolved.ID)
	}
	got, err = db.OpenAlerts(ctx)
	wantAlerts(t, "OpenAlerts (new episode)", got, err, b)
}

// testSaveAtomic: SaveAlerts stores one evaluation or nothing, and sets no id
// when it fails; updating an alert that is not stored fails with ErrNotFound.
func testSaveAtomic(t *testing.T, db store.Backend) {
	ctx := t.Context()
	kept := testAlert()
	kept.Watch = "kept"
	keptTr := monitor.Transition{At: t0, To: monitor.StateFiring}
	saveChange(t, db, &kept, &keptTr)

	fresh := testAlert()
	fresh.Watch = "fresh"
	freshTr := monitor.Transition{At: t0.Add(time.Minute), To: monitor.StateFiring}
	edited := kept
	edited.Finding.Count = 99
	missing := testAlert()
	missing.ID = kept.ID + 1000
	missingTr := monitor.Transition{At: t0.Add(time.Minute), From: monitor.StateFiring, To: monitor.StateResolved}
	err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &fresh, Transition: &freshTr}, {Alert: &edited}, {Alert: &missing, Transition: &missingTr}})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SaveAlerts with an unknown alert = %v, want ErrNotFound", err)
	}
	if fresh.ID != 0 || freshTr.ID != 0 || freshTr.AlertID != 0 || missingTr.ID != 0 {
		t.Errorf("ids set by a failed SaveAlerts: alert %d, transitions %+v %+v", fresh.ID, freshTr, missingTr)
	}
	got, err := db.OpenAlerts(ctx)
	wantAlerts(t, "OpenAlerts after a failed SaveAlerts", got, err, kept)
	if trs, err := db.Transitions(ctx, store.TransitionFilter{}); err != nil || len(trs) != 1 {
		t.Errorf("Transitions after a failed SaveAlerts = %+v, %v; want the one", trs, err)
	}
	if _, tr, _ := db.Latest(ctx); tr != keptTr.ID {
		t.Errorf("Latest transition = %d, want %d", tr, keptTr.ID)
	}
	if err := db.SaveAlerts(ctx, []monitor.Change{{Alert: &missing}}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update of a missing alert = %v, want ErrNotFound", err)
	}
	if err := db.SaveAlerts(ctx, nil); err != nil {
		t.Errorf("SaveAlerts(nil) = %v", err)
	}
	// The same changes without the bad one go in, all at once.
	err = db.SaveAlerts(ctx, []monitor.Change{{Alert: &fresh, Transition: &freshTr}, {Alert: &edited}})
	if err != nil {
		t.Fatal(err)
	}
	got, err = db.OpenAlerts(ctx)
	wantAlerts(t, "OpenAlerts", got, err, edited, fresh)
}

// testAlertFilters: Alerts newest first, by watch, state, update time and limit.
func testAlertFilters(t *testing.T, db store.Backend) {
	ctx := t.Context()
	var saved []monitor.Alert
	for i, s := range []struct {
		watch string
		state monitor.AlertState
	}{
		{"w1", monitor.StateFiring}, {"w2", monitor.StateResolved}, {"w1", monitor.StatePending},
		{"w1", monitor.StateResolved}, {"w2", monitor.StateFiring}, {"w3", monitor.StateFiring},
	} {
		a := testAlert()
		a.Watch, a.State, a.UpdatedAt = s.watch, s.state, t0.Add(time.Duration(i)*time.Hour)
		switch s.state {
		case monitor.StatePending:
			a.StartsAt = time.Time{}
		case monitor.StateResolved:
			a.EndsAt = a.UpdatedAt
		}
		saveChange(t, db, &a, &monitor.Transition{At: a.UpdatedAt, To: s.state})
		saved = append(saved, a)
	}
	pick := func(idx ...int) []monitor.Alert {
		var out []monitor.Alert
		for _, i := range idx {
			out = append(out, saved[i])
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.AlertFilter
		want []monitor.Alert
	}{
		{"all", store.AlertFilter{}, pick(5, 4, 3, 2, 1, 0)},
		{"watch", store.AlertFilter{Watch: "w1"}, pick(3, 2, 0)},
		{"unknown watch", store.AlertFilter{Watch: "nowhere"}, nil},
		{"firing", store.AlertFilter{State: monitor.StateFiring}, pick(5, 4, 0)},
		{"pending", store.AlertFilter{State: monitor.StatePending}, pick(2)},
		{"resolved", store.AlertFilter{State: monitor.StateResolved}, pick(3, 1)},
		{"since is inclusive", store.AlertFilter{Since: t0.Add(3 * time.Hour)}, pick(5, 4, 3)},
		{"since", store.AlertFilter{Since: t0.Add(3*time.Hour + time.Millisecond)}, pick(5, 4)},
		{"limit", store.AlertFilter{Limit: 2}, pick(5, 4)},
		{"all filters", store.AlertFilter{Watch: "w1", State: monitor.StateResolved, Since: t0.Add(time.Hour), Limit: 1}, pick(3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Alerts(ctx, tc.f)
			wantAlerts(t, "Alerts", got, err, tc.want...)
		})
	}
	got, err := db.OpenAlerts(ctx)
	wantAlerts(t, "OpenAlerts (oldest first)", got, err, pick(0, 2, 4, 5)...)
}

// testTransitions ports store/sqlite's TestTransitions: the order they
// happened, notified_at (at once for what nobody is told), the filters; and
// the transitions that are not delivered.
func testTransitions(t *testing.T, db store.Backend) {
	ctx := t.Context()
	a, b := testAlert(), testAlert()
	b.Rule = "other"
	steps := []struct {
		alert *monitor.Alert
		tr    monitor.Transition
	}{
		{&a, monitor.Transition{At: t0, To: monitor.StatePending}},
		{&a, monitor.Transition{At: t0.Add(time.Minute), From: monitor.StatePending, To: monitor.StateFiring}},
		{&b, monitor.Transition{At: t0.Add(2 * time.Minute), To: monitor.StateFiring}},
		{&a, monitor.Transition{At: t0.Add(time.Hour), From: monitor.StateFiring, To: monitor.StateResolved}},
	}
	for i := range steps {
		saveChange(t, db, steps[i].alert, &steps[i].tr)
	}
	notified := t0.Add(90 * time.Second)
	if err := db.MarkNotified(ctx, steps[1].tr.ID, notified); err != nil {
		t.Fatal(err)
	}
	all, err := db.Transitions(ctx, store.TransitionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(steps) {
		t.Fatalf("Transitions = %d rows, want %d", len(all), len(steps))
	}
	for i, got := range all {
		if want := steps[i].tr; got.Transition != want {
			t.Errorf("transition %d = %+v, want %+v", i, got.Transition, want)
		}
		var wantNotified time.Time
		switch i {
		case 0: // pending: nobody is told, so it is notified as it is stored
			wantNotified = t0
		case 1:
			wantNotified = notified
		}
		if !sameTime(got.NotifiedAt, wantNotified) {
			t.Errorf("transition %d notified_at = %v, want %v", i, got.NotifiedAt, wantNotified)
		}
		if got.At.Location() != time.UTC {
			t.Errorf("transition %d at %v, not UTC", i, got.At)
		}
	}
	for _, tc := range []struct {
		name string
		f    store.TransitionFilter
		want int
	}{
		{"alert a", store.TransitionFilter{AlertIDs: []int64{a.ID}}, 3},
		{"alert b", store.TransitionFilter{AlertIDs: []int64{b.ID}}, 1},
		{"both", store.TransitionFilter{AlertIDs: []int64{b.ID, a.ID}}, 4},
		{"unknown alert", store.TransitionFilter{AlertIDs: []int64{a.ID + b.ID + 100}}, 0},
		{"no alerts", store.TransitionFilter{AlertIDs: []int64{}}, 0},
		{"since", store.TransitionFilter{Since: t0.Add(2 * time.Minute)}, 2},
		{"since a ns later", store.TransitionFilter{Since: t0.Add(2*time.Minute + time.Nanosecond)}, 1},
		{"since and alert", store.TransitionFilter{AlertIDs: []int64{a.ID}, Since: t0.Add(time.Minute)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Transitions(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("Transitions(%+v) = %d rows, want %d", tc.f, len(got), tc.want)
			}
		})
	}

	// Not delivered, so notified as stored: a silenced firing, and the end of
	// an alert that never fired. Delivered: a repeat (firing → firing).
	s := monitor.Silence{Watch: "quiet", StartsAt: t0, EndsAt: t0.Add(24 * time.Hour)}
	if err := db.AddSilence(ctx, &s); err != nil {
		t.Fatal(err)
	}
	q := testAlert()
	q.Watch = "quiet"
	muted := monitor.Transition{At: t0.Add(2 * time.Hour), To: monitor.StateFiring, SilenceID: s.ID}
	saveChange(t, db, &q, &muted)
	p := testAlert()
	p.Watch, p.State, p.StartsAt = "brief", monitor.StatePending, time.Time{}
	pt := monitor.Transition{At: t0.Add(2 * time.Hour), To: monitor.StatePending}
	saveChange(t, db, &p, &pt)
	p.State, p.EndsAt = monitor.StateResolved, t0.Add(3*time.Hour)
	pr := monitor.Transition{At: t0.Add(3 * time.Hour), From: monitor.StatePending, To: monitor.StateResolved}
	saveChange(t, db, &p, &pr)
	repeat := monitor.Transition{At: t0.Add(4 * time.Hour), From: monitor.StateFiring, To: monitor.StateFiring}
	saveChange(t, db, &b, &repeat)
	got, err := db.Transitions(ctx, store.TransitionFilter{AlertIDs: []int64{q.ID, p.ID, b.ID}, Since: t0.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("Transitions = %+v, want 4", got)
	}
	for i, want := range []struct {
		tr       monitor.Transition
		notified time.Time
	}{{muted, muted.At}, {pt, pt.At}, {pr, pr.At}, {repeat, time.Time{}}} {
		if got[i].Transition != want.tr || !sameTime(got[i].NotifiedAt, want.notified) {
			t.Errorf("transition %d = %+v notified %v, want %+v notified %v", i, got[i].Transition, got[i].NotifiedAt, want.tr, want.notified)
		}
	}
}

// testOutbox: subscribers' cursors and the notified marks that make the
// transitions table a queue, also across a restart.
func (c *contract) testOutbox(t *testing.T, db store.Backend) {
	ctx := t.Context()
	a, b := testAlert(), testAlert()
	b.Watch = "other"
	a.State, a.StartsAt = monitor.StatePending, time.Time{}
	t1 := monitor.Transition{At: t0, To: monitor.StatePending} // notified at once
	saveChange(t, db, &a, &t1)
	if id, err := db.Cursor(ctx, "early"); err != nil || id != t1.ID {
		t.Errorf("Cursor with every transition notified = %d, %v; want %d, the last", id, err, t1.ID)
	}
	a.State, a.StartsAt = monitor.StateFiring, t0.Add(time.Minute)
	t2 := monitor.Transition{At: t0.Add(time.Minute), From: monitor.StatePending, To: monitor.StateFiring}
	saveChange(t, db, &a, &t2)
	t3 := monitor.Transition{At: t0.Add(2 * time.Minute), To: monitor.StateFiring}
	saveChange(t, db, &b, &t3)
	a.State, a.EndsAt = monitor.StateResolved, t0.Add(time.Hour)
	t4 := monitor.Transition{At: t0.Add(time.Hour), From: monitor.StateFiring, To: monitor.StateResolved}
	saveChange(t, db, &a, &t4)

	cursor := func(db store.Backend, sub string) int64 {
		t.Helper()
		id, err := db.Cursor(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// before checks that a new subscriber's cursor is just before next, the
	// oldest transition not yet notified: at or after prev, the one before it
	// (ids may have gaps).
	before := func(db store.Backend, sub string, prev, next int64) {
		t.Helper()
		if id := cursor(db, sub); id < prev || id >= next {
			t.Errorf("Cursor(%s) = %d, want one in [%d, %d): just before the oldest not notified", sub, id, prev, next)
		}
	}
	after := func(db store.Backend, id int64, limit int) []int64 {
		t.Helper()
		evs, err := db.TransitionsAfter(ctx, id, limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i, ev := range evs {
			ids = append(ids, ev.Transition.ID)
			if i > 0 && ev.Transition.ID <= evs[i-1].Transition.ID {
				t.Errorf("TransitionsAfter not in id order: %d after %d", ev.Transition.ID, evs[i-1].Transition.ID)
			}
		}
		return ids
	}
	eq := func(what string, got []int64, want ...int64) {
		t.Helper()
		if len(got) != len(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
			return
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s = %v, want %v", what, got, want)
				return
			}
		}
	}
	// A new subscriber starts before the oldest transition not yet notified.
	before(db, "new", t1.ID, t2.ID)
	eq("TransitionsAfter(t1, 2)", after(db, t1.ID, 2), t2.ID, t3.ID)
	eq("TransitionsAfter(t3, 10)", after(db, t3.ID, 10), t4.ID)
	eq("TransitionsAfter(t4, 10)", after(db, t4.ID, 10))
	eq("TransitionsAfter(0, 1)", after(db, 0, 1), t1.ID)

	at1, at2 := t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	if err := db.SetCursor(ctx, "s1", t3.ID, at1); err != nil {
		t.Fatal(err)
	}
	if id := cursor(db, "s1"); id != t3.ID {
		t.Errorf("Cursor(s1) = %d, want %d", id, t3.ID)
	}
	if err := db.SetCursor(ctx, "s2", t2.ID, at1); err != nil {
		t.Fatal(err)
	}
	if err := db.SetCursor(ctx, "s2", t4.ID, at2); err != nil {
		t.Fatal(err)
	}
	if id := cursor(db, "s2"); id != t4.ID {
		t.Errorf("Cursor(s2) after a second SetCursor = %d, want %d", id, t4.ID)
	}
	if err := db.MarkNotified(ctx, t3.ID, at1); err != nil {
		t.Fatal(err)
	}
	before(db, "new2", t3.ID, t4.ID)
	if err := db.MarkNotified(ctx, t4.ID, at2); err != nil {
		t.Fatal(err)
	}
	if id := cursor(db, "new3"); id != t4.ID {
		t.Errorf("Cursor(new3) with everything notified = %d, want %d, the last", id, t4.ID)
	}
	if id := cursor(db, "s1"); id != t3.ID {
		t.Errorf("Cursor(s1) after MarkNotified = %d, want %d (its own)", id, t3.ID)
	}
	checkNotified := func(db store.Backend) {
		t.Helper()
		trs, err := db.Transitions(ctx, store.TransitionFilter{})
		if err != nil {
			t.Fatal(err)
		}
		want := []time.Time{t1.At, at1, at1, at2} // marking again keeps the first mark
		if len(trs) != len(want) {
			t.Fatalf("Transitions = %d, want %d", len(trs), len(want))
		}
		for i, w := range want {
			if !sameTime(trs[i].NotifiedAt, w) {
				t.Errorf("transition %d notified %v, want %v", trs[i].ID, trs[i].NotifiedAt, w)
			}
		}
	}
	checkNotified(db)

	db = c.reopen(t, db)
	t.Run("after restart", func(t *testing.T) {
		checkNotified(db)
		if id := cursor(db, "s1"); id != t3.ID {
			t.Errorf("Cursor(s1) = %d, want %d", id, t3.ID)
		}
		if id := cursor(db, "s2"); id != t4.ID {
			t.Errorf("Cursor(s2) = %d, want %d", id, t4.ID)
		}
		if id := cursor(db, "new4"); id != t4.ID {
			t.Errorf("Cursor(new4) = %d, want %d", id, t4.ID)
		}
		got, err := db.OpenAlerts(ctx)
		wantAlerts(t, "OpenAlerts", got, err, b)
		got, err = db.Alerts(ctx, store.AlertFilter{})
		wantAlerts(t, "Alerts", got, err, b, a)
		eq("TransitionsAfter(s1's cursor)", after(db, t3.ID, 10), t4.ID)
		// Ids go on growing after a restart.
		b.State, b.EndsAt, b.UpdatedAt = monitor.StateResolved, t0.Add(5*time.Hour), t0.Add(5*time.Hour)
		t5 := monitor.Transition{At: t0.Add(5 * time.Hour), From: monitor.StateFiring, To: monitor.StateResolved}
		saveChange(t, db, &b, &t5)
		if t5.ID <= t4.ID {
			t.Errorf("transition id after a restart = %d, want > %d", t5.ID, t4.ID)
		}
		c := testAlert()
		c.Watch = "third"
		t6 := monitor.Transition{At: t0.Add(5 * time.Hour), To: monitor.StateFiring}
		saveChange(t, db, &c, &t6)
		if c.ID <= b.ID {
			t.Errorf("alert id after a restart = %d, want > %d", c.ID, b.ID)
		}
		before(db, "new5", t4.ID, t5.ID)
		eq("TransitionsAfter(s2's cursor)", after(db, cursor(db, "s2"), 10), t5.ID, t6.ID)
		if _, tr, _ := db.Latest(ctx); tr != t6.ID {
			t.Errorf("Latest transition = %d, want %d", tr, t6.ID)
		}
	})
}
