package monitor

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryAlerts is an AlertStore that keeps alerts and transitions in memory. A
// backtest pairs it with the real observation store, so that replaying history
// through the engine never writes to the database the daemon uses.
type MemoryAlerts struct {
	mu      sync.Mutex
	alerts  map[int64]Alert
	events  []Event // every transition, with its alert as the transition left it
	cursors map[string]int64
	marked  int64
}

var _ AlertStore = (*MemoryAlerts)(nil)

// NewMemoryAlerts returns an empty in-memory alert store.
func NewMemoryAlerts() *MemoryAlerts {
	return &MemoryAlerts{alerts: map[int64]Alert{}, cursors: map[string]int64{}}
}

// OpenAlerts returns the alerts not resolved.
func (m *MemoryAlerts) OpenAlerts(context.Context) ([]Alert, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Alert
	for _, a := range m.alerts {
		if a.State != StateResolved {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Alert) int { return int(a.ID - b.ID) })
	return out, nil
}

// SaveAlerts stores the changes, numbering alerts and transitions as a database
// would.
func (m *MemoryAlerts) SaveAlerts(_ context.Context, changes []Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, c := range changes {
		if c.Alert.ID != 0 {
			if _, ok := m.alerts[c.Alert.ID]; !ok {
				return fmt.Errorf("monitor: save alert %d: no such alert", c.Alert.ID)
			}
		}
	}
	for _, c := range changes {
		a := c.Alert
		if a.ID == 0 {
			a.ID = int64(len(m.alerts) + 1)
		}
		m.alerts[a.ID] = *a
		if t := c.Transition; t != nil {
			t.ID, t.AlertID = int64(len(m.events)+1), a.ID
			m.events = append(m.events, Event{Alert: *a, Transition: *t})
		}
	}
	return nil
}

// Events returns every transition stored, in order, with its alert as the
// transition left it.
func (m *MemoryAlerts) Events() []Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.events)
}

// TransitionsAfter returns up to limit transitions after the one numbered after.
func (m *MemoryAlerts) TransitionsAfter(_ context.Context, after int64, limit int) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := int(min(max(after, 0), int64(len(m.events))))
	return slices.Clone(m.events[i:min(i+limit, len(m.events))]), nil
}

// Cursor returns the last transition subscriber has: for one never seen, the
// last one not yet marked notified everywhere.
func (m *MemoryAlerts) Cursor(_ context.Context, subscriber string) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.cursors[subscriber]; ok {
		return c, nil
	}
	return m.marked, nil
}

// SetCursor records subscriber's place.
func (m *MemoryAlerts) SetCursor(_ context.Context, subscriber string, id int64, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cursors[subscriber] = id
	return nil
}

// MarkNotified records that every subscriber has the transitions up to upTo.
func (m *MemoryAlerts) MarkNotified(_ context.Context, upTo int64, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.marked = max(m.marked, upTo)
	return nil
}
