package sqlite

/*
// Declarations from sqlite3.h: the functions are those of the SQLite that
// go-sqlite3 links into the binary (its amalgamation, or libsqlite3 with the
// libsqlite3 tag).
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_api_routines sqlite3_api_routines;
extern int sqlite3_auto_extension(void (*xEntryPoint)(void));
extern const char *sqlite3_db_filename(sqlite3 *db, const char *zDbName);
extern int sqlite3_uri_boolean(const char *zFile, const char *zParam, int bDefault);
extern int sqlite3_db_config(sqlite3 *db, int op, ...);

#define SQLITE_DBCONFIG_ENABLE_TRIGGER 1003

// geowatch_open runs as each connection opens. A connection whose URI says
// geowatch_triggers=off runs no triggers of the main schema (TEMP ones only).
static int geowatch_open(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
	(void)err; (void)api;
	const char *file = sqlite3_db_filename(db, "main");
	if (file && !sqlite3_uri_boolean(file, "geowatch_triggers", 1)) {
		return sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)0);
	}
	return 0;
}

static int geowatch_install(void) {
	return sqlite3_auto_extension((void (*)(void))geowatch_open);
}
*/
import "C"

import "fmt"

// triggersOff is the URI parameter that turns the writer's triggers off.
//
// Why: the GeoPackage rtree triggers must exist for other writers (GDAL, QGIS),
// but geowatch's writer maintains the R*Trees itself, in bulk (ingest fills
// rtree_observations_geom per batch; writeAlert and Prune write and delete
// rtree rows explicitly). Even suppressed (ST_IsEmpty answers 1, see
// registerGPKGFunctions), the insert trigger costs a trigger frame and a cgo
// callback per row: about 8 % of ingest time on the reference workload
// (BenchmarkIngest, 50k rows per batch). go-sqlite3 does not expose
// sqlite3_db_config, so an auto-extension applies SQLITE_DBCONFIG_ENABLE_TRIGGER
// to connections opened with this parameter. Were it not applied, nothing goes
// wrong: the suppressed triggers stay inert, and the explicit rtree deletes
// find the rows already gone.
const triggersOff = "geowatch_triggers"

func init() {
	if rc := C.geowatch_install(); rc != 0 {
		panic(fmt.Sprintf("store: sqlite3_auto_extension = %d", rc))
	}
}
