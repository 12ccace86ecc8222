-- observations: one row per (source, ext_id), a GeoPackage point layer.
--
-- hour_bucket (unix hours of observed_at) and cell (0.25° grid cell, numbered
-- row-major from the south-west so that one latitude row of cells is one
-- contiguous range) feed the time-major index the engine's radius+window
-- queries seek; see store/observations.go.
CREATE TABLE observations (
  fid INTEGER PRIMARY KEY AUTOINCREMENT,
  geom POINT,
  source TEXT NOT NULL,
  ext_id TEXT NOT NULL,
  observed_at DATETIME NOT NULL,
  ingested_at DATETIME NOT NULL,
  lat REAL NOT NULL,
  lon REAL NOT NULL,
  place TEXT,
  kind TEXT,
  title TEXT,
  url TEXT,
  weight REAL NOT NULL,
  precision TEXT NOT NULL,
  properties TEXT,
  geometry TEXT,
  hour_bucket INTEGER NOT NULL,
  cell INTEGER NOT NULL,
  UNIQUE (source, ext_id)
);

CREATE INDEX observations_hour_cell ON observations (hour_bucket, cell);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
VALUES ('observations', 'features', 'observations', 'place-tagged reports pulled by geowatch', 4326);
INSERT INTO gpkg_geometry_columns VALUES ('observations', 'geom', 'POINT', 4326, 0, 0);

INSERT INTO gpkg_extensions VALUES
  ('observations', 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec140/#extension_rtree', 'write-only');

CREATE VIRTUAL TABLE rtree_observations_geom USING rtree(id, minx, maxx, miny, maxy);

-- The GeoPackage 1.4 rtree triggers, verbatim from the spec (Annex F.3). geowatch's
-- own connections register an ST_IsEmpty that returns 1, so these do nothing
-- there and the store fills the rtree per batch instead (store/gpkg.go); other
-- writers (GDAL, QGIS) keep the index current through them.
CREATE TRIGGER rtree_observations_geom_insert AFTER INSERT ON observations
  WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
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

CREATE TRIGGER rtree_observations_geom_update4 AFTER UPDATE ON observations
  WHEN OLD.fid != NEW.fid AND
       (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_observations_geom WHERE id IN (OLD.fid, NEW.fid);
END;

CREATE TRIGGER rtree_observations_geom_update5 AFTER UPDATE ON observations
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

CREATE TRIGGER rtree_observations_geom_update6 AFTER UPDATE OF geom ON observations
  WHEN OLD.fid = NEW.fid AND
       (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) AND
       (OLD.geom NOTNULL AND NOT ST_IsEmpty(OLD.geom))
BEGIN
  UPDATE rtree_observations_geom SET
    minx = ST_MinX(NEW.geom),
    maxx = ST_MaxX(NEW.geom),
    miny = ST_MinY(NEW.geom),
    maxy = ST_MaxY(NEW.geom)
  WHERE id = NEW.fid;
END;

CREATE TRIGGER rtree_observations_geom_update7 AFTER UPDATE OF geom ON observations
  WHEN OLD.fid = NEW.fid AND
       (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) AND
       (OLD.geom ISNULL OR ST_IsEmpty(OLD.geom))
BEGIN
  INSERT INTO rtree_observations_geom VALUES (
    NEW.fid,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
    ST_MinY(NEW.geom), ST_MaxY(NEW.geom)
  );
END;

CREATE TRIGGER rtree_observations_geom_delete AFTER DELETE ON observations
  WHEN old.geom NOT NULL
BEGIN
  DELETE FROM rtree_observations_geom WHERE id = OLD.fid;
END;

-- rejects: records that sources or the store refused, with why.
CREATE TABLE rejects (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  source TEXT NOT NULL,
  record TEXT NOT NULL,
  field TEXT,
  reason TEXT NOT NULL,
  raw TEXT,
  rejected_at DATETIME NOT NULL
);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('rejects', 'attributes', 'rejects', 'records refused by a source or the store, with the field at fault');

-- sources: the latest outcome and running totals of each configured check.
CREATE TABLE sources (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  last_run DATETIME NOT NULL,
  last_success DATETIME,
  last_error TEXT,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  last_duration_ms REAL NOT NULL DEFAULT 0,
  last_seen INTEGER NOT NULL DEFAULT 0,
  last_added INTEGER NOT NULL DEFAULT 0,
  last_updated INTEGER NOT NULL DEFAULT 0,
  last_unchanged INTEGER NOT NULL DEFAULT 0,
  last_rejected INTEGER NOT NULL DEFAULT 0,
  total_seen INTEGER NOT NULL DEFAULT 0,
  total_added INTEGER NOT NULL DEFAULT 0,
  total_updated INTEGER NOT NULL DEFAULT 0,
  total_unchanged INTEGER NOT NULL DEFAULT 0,
  total_rejected INTEGER NOT NULL DEFAULT 0
);

INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('sources', 'attributes', 'sources', 'the latest run and running totals of each check');
