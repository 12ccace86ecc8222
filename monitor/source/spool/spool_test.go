package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/geojson"
)

const (
	// Two USGS features, the second with latitude 95.
	collection = `{"type":"FeatureCollection","features":[
{"type":"Feature","id":"hv70264586","geometry":{"type":"Point","coordinates":[-155.2749939,19.3939991,1.46]},"properties":{"time":1528967533010,"type":"earthquake","place":"5km SW of Volcano, Hawaii"}},
{"type":"Feature","id":"bad1","geometry":{"type":"Point","coordinates":[-155.27,95]},"properties":{"time":1528967533010}}]}`
	lines = `{"type":"Feature","id":"n1","geometry":{"type":"Point","coordinates":[131.8855,43.1155]},"properties":{"time":"2019-04-24T10:15:00+10:00","kind":"police_presence"}}
{"type":"Feature","id":"n2","geometry":{"type":"Point","coordinates":[131.89,43.12]},"properties":{"time":"2019-04-24T10:20:00+10:00","kind":"police_presence"}}
`
)

// now is the pull time; files written by put are a minute older, so settled.
var now = time.Now()

func put(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	old := now.Add(-time.Minute)
	if err := os.Chtimes(p, old, old); err != nil {
		t.Fatal(err)
	}
	return p
}

type collector struct {
	batches []monitor.Batch
	err     error
}

func (c *collector) emit(_ context.Context, b monitor.Batch) error {
	if c.err != nil {
		return c.err
	}
	c.batches = append(c.batches, b)
	return nil
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestPull(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "b.ndjson", lines)
	put(t, dir, "a.geojson", collection)
	ignored := []string{".c.geojson", "d.geojson.tmp", "README.txt", "e.csv"}
	for _, name := range ignored {
		put(t, dir, name, collection)
	}
	fresh := filepath.Join(dir, "f.json") // being written: modified just now
	if err := os.WriteFile(fresh, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(fresh, now, now); err != nil {
		t.Fatal(err)
	}

	var c collector
	src := New(dir, Options{GeoJSON: geojson.Options{KindProperty: "kind", DefaultKind: "earthquake"}})
	if err := src.Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 2 {
		t.Fatalf("batches = %d, want 2", len(c.batches))
	}
	a, b := c.batches[0], c.batches[1]
	if a.Origin != filepath.Join(dir, "a.geojson") || b.Origin != filepath.Join(dir, "b.ndjson") {
		t.Errorf("origins = %s, %s; want a.geojson then b.ndjson", a.Origin, b.Origin)
	}
	if len(a.Observations) != 1 || len(a.Rejects) != 1 || a.Rejects[0].Field != "geometry.coordinates" {
		t.Errorf("a.geojson: %d observations, %d rejects, want 1 and 1 at geometry.coordinates", len(a.Observations), len(a.Rejects))
	}
	if len(b.Observations) != 2 || b.Observations[1].Kind != "police_presence" {
		t.Errorf("b.ndjson: %+v", b.Observations)
	}
	for _, name := range []string{"a.geojson", "b.ndjson"} {
		if exists(t, filepath.Join(dir, name)) || !exists(t, filepath.Join(dir, DoneDir, name)) {
			t.Errorf("%s not moved to done/", name)
		}
	}
	for _, name := range append(ignored, "f.json") {
		if !exists(t, filepath.Join(dir, name)) {
			t.Errorf("%s taken, want it left alone", name)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, DoneDir))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o750 {
		t.Errorf("done/ mode = %v, want 0750", fi.Mode().Perm())
	}

	// Once settled, the fresh file is taken.
	if err := src.Pull(t.Context(), now.Add(DefaultSettle), c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 3 || c.batches[2].Origin != fresh {
		t.Errorf("after settling: %d batches, want the third from %s", len(c.batches), fresh)
	}
}

func TestPullFailed(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "bad.json", "<html>not json</html>")
	put(t, dir, "ok.geojson", collection)
	var c collector
	if err := New(dir, Options{}).Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 1 {
		t.Errorf("batches = %d, want 1 from ok.geojson", len(c.batches))
	}
	if !exists(t, filepath.Join(dir, FailedDir, "bad.json")) || exists(t, filepath.Join(dir, "bad.json")) {
		t.Fatal("bad.json not moved to failed/")
	}
	why, err := os.ReadFile(filepath.Join(dir, FailedDir, "bad.json.err"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(why), "not JSON") {
		t.Errorf("bad.json.err = %q, want the reason", why)
	}
}

func TestPullEmitFails(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "a.geojson", collection)
	put(t, dir, "b.ndjson", lines)
	down := &collector{err: errors.New("store down")}
	src := New(dir, Options{})
	err := src.Pull(t.Context(), now, down.emit)
	if !errors.Is(err, down.err) || !strings.Contains(err.Error(), "a.geojson") {
		t.Fatalf("Pull = %v, want the emit error naming a.geojson", err)
	}
	for _, name := range []string{"a.geojson", "b.ndjson"} {
		if !exists(t, filepath.Join(dir, name)) {
			t.Errorf("%s moved although the store was down", name)
		}
	}
	// The store is back: both are taken.
	var c collector
	if err := src.Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 2 {
		t.Errorf("batches = %d, want 2", len(c.batches))
	}
}

func TestPullCollision(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, DoneDir), 0o750); err != nil {
		t.Fatal(err)
	}
	put(t, dir, "done/a.geojson", "earlier")
	put(t, dir, "done/a-1.geojson", "earlier still")
	put(t, dir, "a.geojson", collection)
	var c collector
	if err := New(dir, Options{}).Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, DoneDir, "a-2.geojson"))
	if err != nil || string(got) != collection {
		t.Errorf("done/a-2.geojson = %.20q, %v; want the new file", got, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, DoneDir, "a.geojson")); string(got) != "earlier" {
		t.Errorf("done/a.geojson = %q, want it kept", got)
	}
}

func TestPullSymlink(t *testing.T) {
	outside := t.TempDir()
	target := put(t, outside, "secret.geojson", collection)
	dir := t.TempDir()
	if err := os.Symlink(target, filepath.Join(dir, "link.geojson")); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	var c collector
	if err := New(dir, Options{}).Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 0 {
		t.Errorf("emitted %d batches through a symlink", len(c.batches))
	}
	fi, err := os.Lstat(filepath.Join(dir, FailedDir, "link.geojson"))
	if err != nil || fi.Mode().Type() != os.ModeSymlink {
		t.Errorf("failed/link.geojson = %v, %v; want the link itself", fi, err)
	}
	if !exists(t, target) {
		t.Error("the link's target was moved")
	}
	why, _ := os.ReadFile(filepath.Join(dir, FailedDir, "link.geojson.err"))
	if !strings.Contains(string(why), "not a regular file") {
		t.Errorf("link.geojson.err = %q", why)
	}
}

func TestPullMaxFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"1.geojson", "2.geojson", "3.geojson"} {
		put(t, dir, name, collection)
	}
	src := New(dir, Options{MaxFiles: 2})
	var c collector
	if err := src.Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 2 || !exists(t, filepath.Join(dir, "3.geojson")) {
		t.Fatalf("first pull: %d batches, want 2 with 3.geojson left", len(c.batches))
	}
	if err := src.Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 3 {
		t.Errorf("second pull: %d batches in all, want 3", len(c.batches))
	}
}

func TestPullTooLarge(t *testing.T) {
	dir := t.TempDir()
	put(t, dir, "big.geojson", collection)
	var c collector
	if err := New(dir, Options{MaxBytes: 100}).Pull(t.Context(), now, c.emit); err != nil {
		t.Fatal(err)
	}
	if len(c.batches) != 0 || !exists(t, filepath.Join(dir, FailedDir, "big.geojson.err")) {
		t.Errorf("big.geojson: %d batches, want it in failed/", len(c.batches))
	}
}

func TestPullMissingDir(t *testing.T) {
	var c collector
	err := New(filepath.Join(t.TempDir(), "nope"), Options{}).Pull(t.Context(), now, c.emit)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Pull = %v, want ErrNotExist", err)
	}
}

// TestPullDoneSymlink: done/ replaced by a symbolic link (here to a directory
// outside the spool) is named as such in the error, every file is still taken
// and stays in place (stored, not moved), bad files still go to failed/, and
// once done/ is a directory again the files move there.
func TestPullDoneSymlink(t *testing.T) {
	dir := t.TempDir()
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(dir, DoneDir)); err != nil {
		t.Skip("symlinks unsupported:", err)
	}
	put(t, dir, "a.geojson", collection)
	put(t, dir, "b.ndjson", lines)
	put(t, dir, "c.json", "not json")
	var c collector
	err := New(dir, Options{}).Pull(t.Context(), now, c.emit)
	if err == nil || !strings.Contains(err.Error(), `done/ is a symbolic link (to "`+elsewhere+`"), not a directory`) ||
		strings.Contains(err.Error(), "no free name") {
		t.Fatalf("Pull = %v, want the symlink named", err)
	}
	if n := strings.Count(err.Error(), "stored but not moved"); n != 2 {
		t.Errorf("error names %d files stored but not moved, want 2: %v", n, err)
	}
	if len(c.batches) != 2 {
		t.Errorf("%d batches emitted, want 2 (the spool keeps going)", len(c.batches))
	}
	for _, name := range []string{"a.geojson", "b.ndjson"} {
		if !exists(t, filepath.Join(dir, name)) {
			t.Errorf("%s left the spool", name)
		}
	}
	if !exists(t, filepath.Join(dir, FailedDir, "c.json")) {
		t.Error("c.json not in failed/")
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("%d files written through the link", len(entries))
	}

	if err := os.Remove(filepath.Join(dir, DoneDir)); err != nil {
		t.Fatal(err)
	}
	c = collector{}
	if err := New(dir, Options{}).Pull(t.Context(), now, c.emit); err != nil {
		t.Fatalf("Pull with done/ a directory again: %v", err)
	}
	for _, name := range []string{"a.geojson", "b.ndjson"} {
		if !exists(t, filepath.Join(dir, DoneDir, name)) {
			t.Errorf("%s not in done/", name)
		}
	}
}
