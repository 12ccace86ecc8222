-- Write GeoPackage 1.3 instead of 1.4: Debian 12's GDAL 3.6.2 warns on every
-- open of a 1.4 file ("user_version ... v1.4.0 ... may only be partially
-- supported") and its validate_gpkg.py requires the 1.3 rtree triggers
-- (update1..update4; 1.4 replaced update1 and update3 by update5..update7).
-- GDAL 3.7+ and current QGIS read 1.3 as well. The two trigger sets cannot both
-- stand: 1.3's update1 and 1.4's update7 would insert the same rtree row twice.
-- update2, update4, insert and delete are the same in both versions and stay.
PRAGMA user_version = 10300;

DROP TRIGGER rtree_observations_geom_update5;
DROP TRIGGER rtree_observations_geom_update6;
DROP TRIGGER rtree_observations_geom_update7;

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

DROP TRIGGER rtree_alerts_geom_update5;
DROP TRIGGER rtree_alerts_geom_update6;
DROP TRIGGER rtree_alerts_geom_update7;

CREATE TRIGGER rtree_alerts_geom_update1 AFTER UPDATE OF geom ON alerts
  WHEN OLD.id = NEW.id AND
       (NEW.geom NOTNULL AND NOT ST_IsEmpty(NEW.geom))
BEGIN
  INSERT OR REPLACE INTO rtree_alerts_geom VALUES (
    NEW.id,
    ST_MinX(NEW.geom), ST_MaxX(NEW.geom),
    ST_MinY(NEW.geom), ST_MaxY(NEW.geom)
  );
END;

CREATE TRIGGER rtree_alerts_geom_update3 AFTER UPDATE OF geom ON alerts
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
