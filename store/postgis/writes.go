package postgis

import (
	"context"
	"sync"

	"go.uber.org/zap"
)

// writeCount tells the writes of observations this handle committed from
// everyone else's, by the observation_writes sequence every writer draws
// from after it commits: the rows a daemon keeps in memory follow its own
// writes, and are loaded again after anyone else's (monitor.ForeignWriter).
//
// The value is drawn after the commit, not in the transaction, so that whoever
// sees it can read what it counts; a writer killed between the two leaves the
// write uncounted, and other daemons unaware of it until they load again.
type writeCount struct {
	mu      sync.Mutex
	base    int64 // the sequence's last value when the handle opened
	own     int64 // values this handle drew since, in flight included
	foreign int64 // the most values others drew since, as seen
}

// sequenceValue is the last value drawn from observation_writes, 0 before
// the first.
func (db *DB) sequenceValue(ctx context.Context) (int64, error) {
	var last int64
	var called bool
	if err := db.pool.QueryRow(ctx, `SELECT last_value, is_called FROM observation_writes`).Scan(&last, &called); err != nil {
		return 0, err
	}
	if !called {
		last--
	}
	return last, nil
}

// readWrites reads the count as the handle opens.
func (db *DB) readWrites(ctx context.Context) (err error) {
	db.writes.base, err = db.sequenceValue(ctx)
	return err
}

// countWrite counts one committed write of observations. A failure only
// leaves others unaware of it, so it is logged, not returned.
func (db *DB) countWrite(ctx context.Context) {
	db.writes.mu.Lock()
	db.writes.own++ // before the draw: a reader meanwhile undercounts others', never overcounts
	db.writes.mu.Unlock()
	if _, err := db.pool.Exec(context.WithoutCancel(ctx), `SELECT nextval('observation_writes')`); err != nil {
		db.writes.mu.Lock()
		db.writes.own--
		db.writes.mu.Unlock()
		db.log.Warn("observation write not counted; other daemons may not see it until they load again",
			zap.String("database", db.name), zap.Error(db.wrap(err, "count write")))
	}
}

// ForeignWrites returns how many writes of observations others (another
// process, another node) have committed since this handle opened, as far as
// it has seen: it grows, and may lag a write by one call, never overcount.
func (db *DB) ForeignWrites(ctx context.Context) (int64, error) {
	seq, err := db.sequenceValue(ctx)
	if err != nil {
		return 0, db.wrap(err, "observation writes in %s", db.name)
	}
	db.writes.mu.Lock()
	defer db.writes.mu.Unlock()
	db.writes.foreign = max(db.writes.foreign, seq-db.writes.base-db.writes.own)
	return db.writes.foreign, nil
}
