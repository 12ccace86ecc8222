package sqlite

import (
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
)

func TestTransitions(t *testing.T) {
	db := openTestDB(t, "")
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
		if err := db.SaveTransition(t.Context(), steps[i].alert, &steps[i].tr); err != nil {
			t.Fatal(err)
		}
	}
	notified := t0.Add(90 * time.Second)
	if err := db.markOne(t.Context(), steps[1].tr.ID, notified); err != nil {
		t.Fatal(err)
	}

	all, err := db.Transitions(t.Context(), store.TransitionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(steps) {
		t.Fatalf("Transitions = %d rows, want %d", len(all), len(steps))
	}
	for i, got := range all {
		want := steps[i].tr
		if got.Transition != want {
			t.Errorf("transition %d = %+v, want %+v", i, got.Transition, want)
		}
		wantNotified := time.Time{}
		switch i {
		case 0: // pending: nobody is told, so it is notified as it is stored
			wantNotified = t0
		case 1:
			wantNotified = notified
		}
		if !got.NotifiedAt.Equal(wantNotified) {
			t.Errorf("transition %d notified_at = %v, want %v", i, got.NotifiedAt, wantNotified)
		}
	}

	for _, tc := range []struct {
		name string
		f    store.TransitionFilter
		want int
	}{
		{"alert a", store.TransitionFilter{AlertIDs: []int64{a.ID}}, 3},
		{"alert b", store.TransitionFilter{AlertIDs: []int64{b.ID}}, 1},
		{"no alerts", store.TransitionFilter{AlertIDs: []int64{}}, 0},
		{"since", store.TransitionFilter{Since: t0.Add(2 * time.Minute)}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.Transitions(t.Context(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.want {
				t.Errorf("Transitions(%+v) = %d rows, want %d", tc.f, len(got), tc.want)
			}
		})
	}
}
