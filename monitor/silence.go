package monitor

import (
	"context"
	"time"
)

// Silence mutes the notifications of matching alerts for a while, as an
// Alertmanager silence does: transitions are still evaluated and persisted, but
// not announced. Empty Watch or Rule match any.
type Silence struct {
	ID        int64
	Watch     string
	Rule      string
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedBy string
	Comment   string
}

// Matches reports whether s mutes a at instant now.
func (s Silence) Matches(a Alert, now time.Time) bool {
	return (s.Watch == "" || s.Watch == a.Watch) && (s.Rule == "" || s.Rule == a.Rule) &&
		!now.Before(s.StartsAt) && now.Before(s.EndsAt)
}

// SilenceStore lists silences for the engine.
type SilenceStore interface {
	// Silences returns the silences that have not ended at now.
	Silences(ctx context.Context, now time.Time) ([]Silence, error)
}
