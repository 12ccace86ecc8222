package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
)

// writeCount tells the transactions of this handle that wrote observations
// from everyone else's, by the count every writer keeps in
// observation_writes: the rows a daemon keeps in memory follow its own writes,
// and are loaded again after anyone else's (monitor.ForeignWrites).
type writeCount struct {
	mu      sync.Mutex
	base    int64 // observation_writes.seq when the handle opened
	own     int64 // this handle's writes since, in flight included
	foreign int64 // the most writes by others seen since
}

// readWrites reads the count as the handle opens.
func (db *DB) readWrites(ctx context.Context) error {
	return db.r.QueryRowContext(ctx, `SELECT seq FROM observation_writes`).Scan(&db.writes.base)
}

// countWrite counts, in tx, one transaction that writes observations; call
// ownDone(false) when tx then fails to commit.
func (db *DB) countWrite(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `UPDATE observation_writes SET seq = seq + 1`); err != nil {
		return fmt.Errorf("count the write: %w", err)
	}
	db.writes.mu.Lock()
	db.writes.own++ // before the commit: a reader meanwhile undercounts others', never overcounts
	db.writes.mu.Unlock()
	return nil
}

// ownFailed takes back a write counted by countWrite whose transaction did not
// commit.
func (db *DB) ownFailed() {
	db.writes.mu.Lock()
	db.writes.own--
	db.writes.mu.Unlock()
}

// ForeignWrites returns how many transactions others (another process, another
// handle) have committed that wrote observations since this handle opened, as
// far as it has seen: it grows, and may lag a write committed meanwhile by one
// call, never overcount.
func (db *DB) ForeignWrites(ctx context.Context) (int64, error) {
	var seq int64
	if err := db.r.QueryRowContext(ctx, `SELECT seq FROM observation_writes`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("store: observation writes in %s: %w", db.path, err)
	}
	db.writes.mu.Lock()
	defer db.writes.mu.Unlock()
	db.writes.foreign = max(db.writes.foreign, seq-db.writes.base-db.writes.own)
	return db.writes.foreign, nil
}
