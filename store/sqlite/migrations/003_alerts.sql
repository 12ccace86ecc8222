-- alerts: one row per episode of a rule holding at a watch, a GeoPackage layer whose
-- geometry is the finding's convex hull, else the watch's circle around the
-- centre, else the centre point (shape says which).
CREATE TABLE alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  geom GEOMETRY,
  shape TEXT NOT NULL,
  watch TEXT NOT NULL,
  rule TEXT NOT NULL,
  rule_type TEXT NOT NULL,
  severity TEXT NOT NULL,
  state TEXT NOT NULL,
  radius_m REAL NOT NULL,
  window_s REAL NOT NULL,
  starts_at DATETIME NOT NULL,
  updated_at DATETIME NOT NULL,
  ends_at DATETIME,
  count INTEGER NOT NULL,
  weight REAL NOT NULL,
  lat REAL,
  lon REAL,
  first_seen DATETIME,
  last_seen DATETIME,
  fids TEXT NOT NULL
);

-- Open alerts are read at every start; resolved ones pile up.
CREATE INDEX alerts_open ON alerts (state) WHERE state != 'resolved';

INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
VALUES ('alerts', 'features', 'alerts', 'alert episodes: where and when a watch rule held', 4326);
INSERT INTO gpkg_geometry_columns VALUES ('alerts', 'geom', 'GEOMETRY', 4326, 0, 0);
INSERT INTO gpkg_extensions VALUES
  ('alerts', 'geom', 'gpkg_rtree_index', 'http://www.geopackage.org/spec140/#extension_rtree', 'write-only');

CREATE VIRTUAL TABLE rtree_alerts_geom USING rtree(id, minx, maxx, miny, maxy);

-- The GeoPackage 1.4 rtree triggers; suppressed in geowatch's connections like
-- those of observations (the store writes rtree_alerts_geom itself).
CREATE TRIGGER rtree_alerts_geom_insert AFTER INSERT ON alerts
  WHEN (new.geom NOT NULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_alerts_geom VALUES (
    NEW.id,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
    ST_MinY(NEW.geom), ST_MaxY(NEW.geom)
  );
END;

CREATE TRIGGER rtree_alerts_geom_update2 AFTER UPDATE OF geom ON alerts
  WHEN OLD.id = NEW.id AND
       (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_alerts_geom WHERE id = OLD.id;
END;

CREATE TRIGGER rtree_alerts_geom_update4 AFTER UPDATE ON alerts
  WHEN OLD.id != NEW.id AND
       (NEW.geom ISNULL OR ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_alerts_geom WHERE id IN (OLD.id, NEW.id);
END;

CREATE TRIGGER rtree_alerts_geom_update5 AFTER UPDATE ON alerts
  WHEN OLD.id != NEW.id AND
       (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  DELETE FROM rtree_alerts_geom WHERE id = OLD.id;
  INSERT OR REPLACE INTO rtree_alerts_geom VALUES (
    NEW.id,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
    ST_MinY(NEW.geom), ST_MaxY(NEW.geom)
  );
END;

CREATE TRIGGER rtree_alerts_geom_update6 AFTER UPDATE OF geom ON alerts
  WHEN OLD.id = NEW.id AND
       (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) AND
       (OLD.geom NOTNULL AND NOT ST_IsEmpty(OLD.geom))
BEGIN
  UPDATE rtree_alerts_geom SET
    minx = ST_MinX(NEW.geom),
    maxx = ST_MaxX(NEW.geom),
    miny = ST_MinY(NEW.geom),
    maxy = ST_MaxY(NEW.geom)
  WHERE id = NEW.id;
END;

CREATE TRIGGER rtree_alerts_geom_update7 AFTER UPDATE OF geom ON alerts
  WHEN OLD.id = NEW.id AND
       (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom)) AND
       (OLD.geom ISNULL OR ST_IsEmpty(OLD.geom))
BEGIN
  INSERT INTO rtree_alerts_geom VALUES (
    NEW.id,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
    ST_MinY(NEW.geom), ST_MaxY(NEW.geom)
  );
END;

CREATE TRIGGER rtree_alerts_geom_delete AFTER DELETE ON alerts
  WHEN old.geom NOT NULL
BEGIN
  DELETE FROM rtree_alerts_geom WHERE id = OLD.id;
END;

-- alert_transitions: every state change, kept until and after it is notified;
-- notified_at stays NULL until every sink has it, so a restart re-sends it.
CREATE TABLE alert_transitions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id INTEGER NOT NULL REFERENCES alerts(id),
  at DATETIME NOT NULL,
  from_state TEXT,
  to_state TEXT NOT NULL,
  notified_at DATETIME
);

CREATE INDEX alert_transitions_alert ON alert_transitions (alert_id);
CREATE INDEX alert_transitions_unnotified ON alert_transitions (id) WHERE notified_at IS NULL;

INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
VALUES ('alert_transitions', 'attributes', 'alert_transitions', 'alert state changes and when they were notified');
