package sqlite

// The process's memory: glibc's malloc arenas decide how much of what SQLite
// frees the process gives back.

/*
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
*/
import "C"

// LimitMallocArenas caps glibc's malloc arenas (M_ARENA_MAX) for the rest of
// the process; elsewhere it does nothing. SQLite's allocations come from
// whichever thread cgo runs a call on, and glibc gives threads arenas of
// their own that it seldom gives back: a 1M-row import peaked at 424 MB
// resident with SQLite itself holding under 70 MB, and at 267 MB with one
// arena, at the same CPU time. Every geowatch process starts with at most 2
// (a constructor, before any thread; MALLOC_ARENA_MAX overrides it); an
// import lowers that to 1 before the store opens.
func LimitMallocArenas(n int) { C.geowatch_arenas(C.int(n)) }
