package store

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
extern long long sqlite3_memory_used(void);
extern long long sqlite3_memory_highwater(int resetFlag);

#define SQLITE_DBCONFIG_ENABLE_TRIGGER 1003

#include <stdlib.h> // defines __GLIBC__ under glibc
#ifdef __GLIBC__
#include <malloc.h>
static int geowatch_arenas(int n) { return mallopt(M_ARENA_MAX, n); }

// Before the Go runtime starts its threads, so that no arena exists yet:
// see LimitMallocArenas. MALLOC_ARENA_MAX, when set, is left to glibc.
__attribute__((constructor)) static void geowatch_malloc_init(void) {
	if (getenv("MALLOC_ARENA_MAX") == NULL) {
		mallopt(M_ARENA_MAX, 2);
	}
}
#else
static int geowatch_arenas(int n) { (void)n; return 0; }
#endif

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

// SQLiteMemory returns the bytes SQLite has allocated now and at most since
// the process started (sqlite3_memory_used, sqlite3_memory_highwater): page
// caches, statements, sorters, across every connection.
func SQLiteMemory() (used, highwater int64) {
	return int64(C.sqlite3_memory_used()), int64(C.sqlite3_memory_highwater(0))
}

// LimitMallocArenas caps glibc's malloc arenas (M_ARENA_MAX) for the rest of
// the process; elsewhere it does nothing. SQLite's allocations come from
// whichever thread cgo runs a call on, and glibc gives threads arenas of
// their own that it seldom gives back: a 1M-row import peaked at 424 MB
// resident with SQLite itself holding under 70 MB, and at 267 MB with one
// arena, at the same CPU time. Every geowatch process starts with at most 2
// (a constructor, before any thread; MALLOC_ARENA_MAX overrides it); an
// import lowers that to 1 before the store opens.
func LimitMallocArenas(n int) { C.geowatch_arenas(C.int(n)) }
