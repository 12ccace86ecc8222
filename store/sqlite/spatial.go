package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/geowatch/geowatch/store"

	"go.uber.org/zap"
)

// rtreeObservationsDDL recreates the observations R*Tree as migrations 002
// and 010 left it (GeoPackage 1.3's rtree triggers, Annex F.3 of 1.2/1.3),
// filled from the stored rows.
const rtreeObservationsDDL = `
CREATE VIRTUAL TABLE rtree_observations_geom USING rtree(id, minx, maxx, miny, maxy);
INSERT INTO rtree_observations_geom SELECT fid, lon, lon, lat, lat FROM observations WHERE geom IS NOT NULL ORDER BY fid;
INSERT OR IGNORE INTO gpkg_extensions VALUES
  ('observations', 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec140/#extension_rtree', 'write-only');

CREATE TRIGGER rtree_observations_geom_insert AFTER INSERT ON observations
  WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
    ST_MinY(NEW.geom), ST_MaxY(NEW.geom)
  );
END;

CREATE TRIGGER rtree_observations_geom_update1 AFTER UPDATE OF geom ON observations
  WHEN OLD.fid = NEW.fid AND
       (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
    ST_MinY(NEW.geom), ST_MaxY(NEW.geom)
  );
END;

CREATE TRIGGER rtree_observations_geom_update2 AFTER UPDATE OF geom ON observations
  WHEN OLD.fid = NEW.fid AND
       (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
END;

CREATE TRIGGER rtree_observations_geom_update3 AFTER UPDATE OF geom ON observations
  WHEN OLD.fid != NEW.fid AND
       (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
  INSERT OR REPLACE INTO rtree_observations_geom VALUES (
    NEW.fid,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
    ST_MinY(NEW.geom), ST_MaxY(NEW.geom)
  );
END;

CREATE TRIGGER rtree_observations_geom_update4 AFTER UPDATE ON observations
  WHEN OLD.fid != NEW.fid AND
       (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id IN (OLD.fid, NEW.fid);
END;

CREATE TRIGGER rtree_observations_geom_delete AFTER DELETE ON observations
  WHEN old.geom NOT NULL
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
END;
`

// dropRTreeObservationsDDL removes the R*Tree, its triggers (of any
// GeoPackage version) and its extension row, leaving a valid GeoPackage
// whose observations layer has no spatial index.
const dropRTreeObservationsDDL = `
DROP TRIGGER IF EXISTS rtree_observations_geom_insert;
DROP TRIGGER IF EXISTS rtree_observations_geom_update1;
DROP TRIGGER IF EXISTS rtree_observations_geom_update2;
DROP TRIGGER IF EXISTS rtree_observations_geom_update3;
DROP TRIGGER IF EXISTS rtree_observations_geom_update4;
DROP TRIGGER IF EXISTS rtree_observations_geom_update5;
DROP TRIGGER IF EXISTS rtree_observations_geom_update6;
DROP TRIGGER IF EXISTS rtree_observations_geom_update7;
DROP TRIGGER IF EXISTS rtree_observations_geom_delete;
DROP TABLE IF EXISTS rtree_observations_geom;
DELETE FROM gpkg_extensions
  WHERE table_name = 'observations' AND column_name = 'geom' AND extension_name = 'gpkg_rtree_index';
`

// hasRTree says whether the file has the observations R*Tree.
func hasRTree(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'rtree_observations_geom'`).Scan(&n)
	return n > 0, err
}

// applySpatialIndex switches the file to want, in one transaction on w (a
// connection with triggers on, as migrations run), and sets db.rtree.
func (db *DB) applySpatialIndex(ctx context.Context, w *sql.DB, want store.SpatialIndex) error {
	// A look first, without the write lock: opening a file that is as wanted
	// takes no lock that another process's writer holds.
	has, err := hasRTree(ctx, w)
	if err != nil {
		return err
	}
	db.rtree = has
	if want == store.SpatialIndexKeep || has == (want == store.SpatialIndexRTree) {
		return nil
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if has, err = hasRTree(ctx, tx); err != nil { // another process may have switched it meanwhile
		return err
	}
	db.rtree = has
	var ddl string
	switch {
	case want == store.SpatialIndexRTree && !has:
		ddl = rtreeObservationsDDL
	case want == store.SpatialIndexOff && has:
		ddl = dropRTreeObservationsDDL
	default:
		return nil
	}
	start := time.Now()
	if _, err := tx.ExecContext(ctx, ddl); err != nil {
		return fmt.Errorf("spatial index %s: %w", want, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("spatial index %s: %w", want, err)
	}
	db.rtree = want == store.SpatialIndexRTree
	db.log.Info("spatial index switched", zap.String("path", db.path), zap.Stringer("spatial_index", want),
		zap.Duration("duration", time.Since(start)))
	return nil
}

// SpatialIndexOn says whether the observations layer has its R*Tree.
func (db *DB) SpatialIndexOn() bool { return db.rtree }
