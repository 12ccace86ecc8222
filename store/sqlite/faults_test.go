package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/geo"
	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/spool"
	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/sqlite"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// The database-fault tests run a spool check through the engine on a real
// store while the database misbehaves: locked by another connection, on a full
// disk, read-only, or removed. Each run that cannot store fails with an error
// naming the file and the cause, leaves the spooled file where it was, and the
// run after the fault clears stores it: no record is lost.

// spoolFile drops a settled GeoJSON file of n features into dir.
func spoolFile(t *testing.T, dir, name string, n, titleBytes int) {
	t.Helper()
	var fs []string
	title := strings.Repeat("x", titleBytes)
	for i := range n {
		fs = append(fs, fmt.Sprintf(`{"type":"Feature","id":"%s-%d","geometry":{"type":"Point","coordinates":[131.9,%v]},
			"properties":{"time":"2024-05-01T10:00:00Z","title":%q}}`, name, i, 43+0.001*float64(i), title))
	}
	p := filepath.Join(dir, name+".geojson")
	if err := os.WriteFile(p, []byte(`{"type":"FeatureCollection","features":[`+strings.Join(fs, ",")+`]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour) // settled
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
}

type faultRig struct {
	db     *sqlite.DB
	path   string
	engine *monitor.Engine
	src    *spool.Source
	spool  string
	logs   *observer.ObservedLogs
}

func newFaultRig(t *testing.T, path string, opts ...store.Option) *faultRig {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	core, logs := observer.New(zap.DebugLevel)
	e, err := monitor.NewEngine(t.Context(), db, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &faultRig{db: db, path: path, engine: e, src: spool.New(dir, spool.Options{}), spool: dir, logs: logs}
}

func (r *faultRig) run(t *testing.T) (monitor.IngestResult, error) {
	t.Helper()
	return r.engine.RunCheck(t.Context(), "drop", "spool", r.src, time.Now(), nil)
}

// pending lists the spool's files not yet taken.
func (r *faultRig) pending(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(r.spool, "*.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (r *faultRig) stored(t *testing.T) int {
	t.Helper()
	obs, err := r.db.Observations(t.Context(), monitor.Query{Area: geo.Circle{Center: orb.Point{131.9, 43}, RadiusMeters: 500e3}, Since: time.Unix(0, 0), Until: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return len(obs)
}

// wantFault checks a failed run: the error names the database and the cause,
// and the file waits in the spool.
func (r *faultRig) wantFault(t *testing.T, err error, cause ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("run succeeded during the fault")
	}
	msg := err.Error()
	t.Logf("fault: %v", err)
	if !strings.Contains(msg, r.path) {
		t.Errorf("error %q does not name the database %s", msg, r.path)
	}
	found := false
	for _, c := range cause {
		found = found || strings.Contains(msg, c)
	}
	if !found {
		t.Errorf("error %q does not give the cause, one of %q", msg, cause)
	}
	if p := r.pending(t); len(p) == 0 {
		t.Error("the spooled file left the spool though it was not stored")
	}
}

// wantResumed checks the run after the fault clears: it stores everything.
func (r *faultRig) wantResumed(t *testing.T, want int) {
	t.Helper()
	if _, err := r.run(t); err != nil {
		t.Fatalf("run after the fault cleared: %v", err)
	}
	if p := r.pending(t); len(p) > 0 {
		t.Errorf("files still in the spool: %v", p)
	}
	if got := r.stored(t); got != want {
		t.Errorf("%d observations stored, want %d", got, want)
	}
}

// TestFaultLocked holds BEGIN IMMEDIATE on another connection past the busy
// timeout.
func TestFaultLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geowatch.gpkg")
	r := newFaultRig(t, path, store.WithBusyTimeout(200*time.Millisecond))
	spoolFile(t, r.spool, "a", 5, 10)

	other, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = r.run(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("locked run took %v; the busy timeout is 200ms", d)
	}
	r.wantFault(t, err, "database is locked")
	if err := r.db.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Errorf("Ping while locked = %v, want database is locked", err)
	}
	if _, err := conn.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	r.wantResumed(t, 5)
}

// mount runs mount(8), skipping the test where it is not allowed.
func mount(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("mount", args...).CombinedOutput(); err != nil {
		t.Skipf("mount %s: %v: %s (needs root in a sandbox that allows mounts)", strings.Join(args, " "), err, out)
	}
}

func umount(t *testing.T, dir string) {
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
}

// TestFaultDiskFull puts the database on a small tmpfs and fills it.
func TestFaultDiskFull(t *testing.T) {
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	mount(t, "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt)
	umount(t, mnt)
	path := filepath.Join(mnt, "geowatch.gpkg")
	r := newFaultRig(t, path)
	spoolFile(t, r.spool, "a", 5, 10)
	if _, err := r.run(t); err != nil {
		t.Fatal(err)
	}

	// Fill what is left, then drop a batch that needs room.
	filler := filepath.Join(mnt, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break // ENOSPC
		}
	}
	f.Close()
	spoolFile(t, r.spool, "b", 200, 2000)
	_, err = r.run(t)
	r.wantFault(t, err, "database or disk is full", "no space left on device")
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r.wantResumed(t, 205)
}

// TestFaultReadOnly makes the database's directory read-only under the running
// store with a read-only bind mount (the tests run as root, which chmod 0444
// does not stop).
func TestFaultReadOnly(t *testing.T) {
	if os.Geteuid() != 0 {
		// Not root: chmod is the fault.
		t.Run("chmod", func(t *testing.T) { testReadOnlyChmod(t) })
		return
	}
	src := filepath.Join(t.TempDir(), "data")
	mnt := filepath.Join(t.TempDir(), "ro")
	for _, d := range []string{src, mnt} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mount(t, "--bind", src, mnt)
	umount(t, mnt)
	path := filepath.Join(mnt, "geowatch.gpkg")
	r := newFaultRig(t, path)
	spoolFile(t, r.spool, "a", 5, 10)
	if _, err := r.run(t); err != nil {
		t.Fatal(err)
	}
	// A mount with files open for writing cannot turn read-only (EBUSY): the
	// open database keeps writing. Read-only bites when the store opens the file,
	// so close it, remount, and open again.
	if out, err := exec.Command("mount", "-o", "remount,bind,ro", mnt).CombinedOutput(); err == nil {
		t.Logf("remount ro with the database open succeeded: %s", out)
		spoolFile(t, r.spool, "b", 3, 10)
		_, err := r.run(t)
		r.wantFault(t, err, "readonly", "read-only")
		mount(t, "-o", "remount,bind,rw", mnt)
		r.wantResumed(t, 8)
		return
	}
	r.db.Close()
	mount(t, "-o", "remount,bind,ro", mnt)
	_, err := sqlite.Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "read-only file system") {
		t.Fatalf("Open on a read-only mount = %v, want an error naming %s and the read-only file system", err, path)
	}
	t.Logf("open on a read-only mount: %v", err)
	mount(t, "-o", "remount,bind,rw", mnt)
	r2 := newFaultRig(t, path)
	r2.src, r2.spool = r.src, r.spool
	spoolFile(t, r2.spool, "b", 3, 10)
	r2.wantResumed(t, 8)
}

func testReadOnlyChmod(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "geowatch.gpkg")
	db, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, p := range []string{path, dir} {
		if err := os.Chmod(p, 0o555); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755); os.Chmod(path, 0o644) })
	if _, err := sqlite.Open(t.Context(), path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a read-only file = %v, want an error naming %s", err, path)
	}
}

// TestFaultDirectoryRemoved removes the database's directory under the running
// store. SQLite would go on writing to the unlinked file, and whatever it
// "stored" would vanish with the process, so the store refuses to write.
func TestFaultDirectoryRemoved(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "geowatch.gpkg")
	r := newFaultRig(t, path)
	spoolFile(t, r.spool, "a", 5, 10)
	if _, err := r.run(t); err != nil {
		t.Fatal(err)
	}
	// The store's background checkpointer may recreate the -wal or -shm file
	// while the directory is being emptied ("directory not empty"): remove
	// again until it is gone.
	var err error
	for range 10 {
		if err = os.RemoveAll(dir); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	spoolFile(t, r.spool, "b", 3, 10)
	_, err = r.run(t)
	r.wantFault(t, err, "no such file or directory")
	if !errors.Is(err, sqlite.ErrFileGone) {
		t.Errorf("error %v does not wrap ErrFileGone", err)
	}
	if err := r.db.Ping(t.Context()); err == nil {
		t.Error("Ping succeeded with the database removed")
	}
	// Once the file is gone for good the store cannot resume by itself: the
	// records wait in the spool for a restart on a new database.
	r.db.Close()
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r2 := newFaultRig(t, path)
	r2.src, r2.spool = r.src, r.spool
	r2.wantResumed(t, 3)
}
