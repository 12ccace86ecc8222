package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/internal/rowcodec"
)

// Prune deletes what ended before before: observations observed before it,
// rejects rejected before it, and resolved alerts that ended before it together
// with their transitions. A resolved alert with a transition not yet notified is
// kept until it is, so pruning never loses a notification.
//
// It deletes at most batch rows (store.DefaultPruneBatch if batch <= 0) per
// transaction and releases the write lock between them, so that ingest never
// waits behind more than one batch; each batch commits on its own, so a
// cancelled Prune keeps what it deleted. Each batch deletes the rows' R*Tree
// entries in the same transaction, so the R*Trees stay consistent at every commit.
func (db *DB) Prune(ctx context.Context, before time.Time, batch int) (store.PruneResult, error) {
	var res store.PruneResult
	if db.w == nil {
		return res, fmt.Errorf("store: prune %s: %w", db.path, errReadOnly)
	}
	if batch <= 0 {
		batch = store.DefaultPruneBatch
	}
	cut := formatTime(rowcodec.CeilMilli(before.UTC())) // stored times are whole milliseconds
	for _, s := range []struct {
		what string
		n    *int64
		del  func(context.Context, string, int) (int64, error)
	}{
		{"observations", &res.Observations, func(ctx context.Context, cut string, batch int) (int64, error) {
			return db.pruneObservations(ctx, hourBucket(before), cut, batch)
		}},
		{"rejects", &res.Rejects, db.pruneRejects},
		{"alerts", &res.Alerts, func(ctx context.Context, cut string, batch int) (int64, error) {
			alerts, transitions, err := db.pruneAlerts(ctx, cut, batch)
			res.Transitions += transitions
			return alerts, err
		}},
	} {
		for {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("store: prune %s in %s: %w", s.what, db.path, err)
			}
			n, err := s.del(ctx, cut, batch)
			*s.n += n
			if err != nil {
				return res, fmt.Errorf("store: prune %s in %s: %w", s.what, db.path, err)
			}
			db.kickCheckpoint()
			if n < int64(batch) {
				break
			}
		}
	}
	return res, nil
}

// pruneTx runs fn in a write transaction with temp.prune_ids emptied, for fn to
// fill with the ids of one batch.
func (db *DB) pruneTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE IF NOT EXISTS prune_ids (id INTEGER PRIMARY KEY)`); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM temp.prune_ids`); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// execCount runs statements in order and returns the rows the last one changed.
func execCount(ctx context.Context, tx *sql.Tx, stmts []string, args ...any) (int64, error) {
	var n int64
	for i, q := range stmts {
		var a []any
		if i == 0 {
			a = args
		}
		r, err := tx.ExecContext(ctx, q, a...)
		if err != nil {
			return 0, err
		}
		if n, err = r.RowsAffected(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// pruneObservations deletes up to batch observations observed before cut, and
// their rtree rows: the writer runs no triggers (triggers.go). The only time
// index is observations_hour_cell, so the scan is bounded by hour, then the
// exact time is tested.
func (db *DB) pruneObservations(ctx context.Context, hour int64, cut string, batch int) (n int64, err error) {
	counted := false
	err = db.pruneTx(ctx, func(tx *sql.Tx) error {
		stmts := []string{
			`INSERT INTO temp.prune_ids SELECT fid FROM observations INDEXED BY observations_hour_cell
				WHERE hour_bucket <= ?1 AND observed_at < ?2 LIMIT ?3`,
			`DELETE FROM rtree_observations_geom WHERE id IN (SELECT id FROM temp.prune_ids)`,
			`DELETE FROM observations WHERE fid IN (SELECT id FROM temp.prune_ids)`,
		}
		if !db.rtree { // spatial_index: off
			stmts = slices.Delete(stmts, 1, 2)
		}
		if n, err = execCount(ctx, tx, stmts, hour, cut, batch); err != nil || n == 0 {
			return err
		}
		if err := db.countWrite(ctx, tx); err != nil {
			return err
		}
		counted = true
		return nil
	})
	if err != nil {
		if counted {
			db.ownFailed()
		}
		return 0, err
	}
	return n, nil
}

// pruneRejects deletes up to batch rejects rejected before cut; their ids
// follow rejected_at, so the oldest are found first.
func (db *DB) pruneRejects(ctx context.Context, cut string, batch int) (int64, error) {
	r, err := db.w.ExecContext(ctx, `DELETE FROM rejects WHERE id IN (
		SELECT id FROM rejects WHERE rejected_at < ?1 ORDER BY id LIMIT ?2)`, cut, batch)
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}

// pruneAlerts deletes up to batch resolved, fully notified alerts that ended
// before cut, their rtree rows, and their transitions first (they reference the
// alert).
func (db *DB) pruneAlerts(ctx context.Context, cut string, batch int) (alerts, transitions int64, err error) {
	err = db.pruneTx(ctx, func(tx *sql.Tx) error {
		if transitions, err = execCount(ctx, tx, []string{
			`INSERT INTO temp.prune_ids SELECT id FROM alerts AS a WHERE state = 'resolved' AND ends_at < ?1
				AND NOT EXISTS (SELECT 1 FROM alert_transitions AS t WHERE t.alert_id = a.id AND t.notified_at IS NULL)
				ORDER BY id LIMIT ?2`,
			`DELETE FROM alert_transitions WHERE alert_id IN (SELECT id FROM temp.prune_ids)`,
		}, cut, batch); err != nil {
			return err
		}
		alerts, err = execCount(ctx, tx, []string{
			`DELETE FROM rtree_alerts_geom WHERE id IN (SELECT id FROM temp.prune_ids)`,
			`DELETE FROM alerts WHERE id IN (SELECT id FROM temp.prune_ids)`,
		})
		return err
	})
	if err != nil {
		return 0, 0, err
	}
	return alerts, transitions, nil
}

// Backup writes a consistent copy of the database to dest, a new file, while
// writes go on. dest must not exist (the error then wraps fs.ErrExist); it is
// created with the database's file mode, and removed if the copy fails.
//
// It uses VACUUM INTO on a reader connection: the copy is the snapshot of one
// read transaction, so writers are never blocked (WAL) and the copy never has to
// restart, unlike the online backup API, which starts over whenever another
// connection writes to the source mid-copy. The copy is also compacted and
// checkpointed into one file (rollback journal; geowatch's Open turns it back to
// WAL), a valid GeoPackage as it stands. The cost is a rebuild of every index,
// about as long as reading the whole file twice.
func (db *DB) Backup(ctx context.Context, dest string) error {
	if err := db.backup(ctx, dest); err != nil {
		return fmt.Errorf("store: back up %s to %s: %w", db.path, dest, err)
	}
	return nil
}

func (db *DB) backup(ctx context.Context, dest string) (err error) {
	// Create dest ourselves, exclusively: no overwrite even in a race, and the
	// mode is fileMode. VACUUM INTO accepts an empty file.
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, removeIfExists(dest), removeIfExists(dest+"-journal"))
		}
	}()
	c, err := db.r.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	// Readers are query_only, which also forbids VACUUM INTO: lift it for this
	// statement on this connection only, and put it back before the
	// connection returns to the pool.
	if _, err := c.ExecContext(ctx, `PRAGMA query_only = off`); err != nil {
		return err
	}
	_, err = c.ExecContext(ctx, `VACUUM INTO ?`, dest)
	if _, qerr := c.ExecContext(context.WithoutCancel(ctx), `PRAGMA query_only = on`); qerr != nil {
		c.Raw(func(any) error { return driver.ErrBadConn }) // never reuse a writable reader
		err = errors.Join(err, qerr)
	}
	return err
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
