-- PostGIS: the geometry type, its GiST operator classes and the
-- geometry_columns view through which QGIS and GDAL find the layers. The
-- extension may already be there (a template database, or an administrator
-- who created it because geowatch's role may not).
CREATE EXTENSION IF NOT EXISTS postgis;
