package monitor

import (
	"context"
	"errors"
	"time"
)

// RecentQuery answers q from the engine's recent index, as an evaluation
// would, or reports false when the index cannot.
func (e *Engine) RecentQuery(q Query) ([]Observation, bool) { return e.recent.query(q) }

// WaitRecent waits for a background load of the recent index to end.
func (e *Engine) WaitRecent() { e.loads.wg.Wait() }

// LoadRecentWith loads the recent index from since with the writes during
// commits through the engine landing after the load read the store and before
// it ends: the race a load in the background runs.
func (e *Engine) LoadRecentWith(ctx context.Context, since time.Time, during func()) error {
	if !e.recent.startLoad() {
		return errors.New("a load is running")
	}
	obs, err := e.store.Observations(ctx, Query{Area: World{}, Since: since})
	during()
	return e.recent.finish(obs, since, err)
}
