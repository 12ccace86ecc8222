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
	mu          sync.Mutex
	alerts      map[int64]Alert
	transitions []Transition
	notified    map[int64]bool
}

var _ AlertStore = (*MemoryAlerts)(nil)

// NewMemoryAlerts returns an empty in-memory alert store.
func NewMemoryAlerts() *MemoryAlerts {
	return &MemoryAlerts{alerts: map[int64]Alert{}, notified: map[int64]bool{}}
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

// SaveTransition stores a and t, numbering them as a database would.
func (m *MemoryAlerts) SaveTransition(_ context.Context, a *Alert, t *Transition) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a.ID == 0 {
		a.ID = int64(len(m.alerts) + 1)
	}
	t.ID = int64(len(m.transitions) + 1)
	t.AlertID = a.ID
	m.alerts[a.ID] = *a
	m.transitions = append(m.transitions, *t)
	return nil
}

// UpdateAlert stores a's latest finding.
func (m *MemoryAlerts) UpdateAlert(_ context.Context, a *Alert) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.alerts[a.ID]; !ok {
		return fmt.Errorf("monitor: update alert %d: no such alert", a.ID)
	}
	m.alerts[a.ID] = *a
	return nil
}

// UnnotifiedTransitions returns the transitions not marked notified.
func (m *MemoryAlerts) UnnotifiedTransitions(context.Context) ([]Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Event
	for _, t := range m.transitions {
		if !m.notified[t.ID] {
			out = append(out, Event{Alert: m.alerts[t.AlertID], Transition: t})
		}
	}
	return out, nil
}

// MarkNotified marks a transition notified.
func (m *MemoryAlerts) MarkNotified(_ context.Context, id int64, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notified[id] = true
	return nil
}
