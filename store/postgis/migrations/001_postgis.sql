-- PostGIS: the geometry type, its GiST operator classes and the
-- geometry_columns view through which QGIS and GDAL find the layers. The
-- extension may already be there (a template database, or an administrator
-- who created it because geowatch's role may not).
CREATE EXTENSION IF NOT EXISTS postgis;
-- btree_gist: B-tree operator classes for GiST, so that one GiST index on
-- observations covers both the point and the time (002). It ships with
-- PostgreSQL (contrib) and is a trusted extension: a database owner may
-- create it.
CREATE EXTENSION IF NOT EXISTS btree_gist;
