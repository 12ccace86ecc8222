package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"
)

// TestIngestKilled: `geowatch ingest` reads an NDJSON file from a pipe that
// delivers two batches (ingestChunk lines each) and part of the next, and is SIGKILLed
// once `geowatch sources` shows those two stored. The source's row
// then says the run was interrupted and counts what it stored; a rerun of the
// whole file settles it.
func TestIngestKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "geowatch.gpkg")
	fifo := filepath.Join(dir, "feed.ndjson")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var all bytes.Buffer
	at := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
	total, stored := 3*ingestChunk, 2*ingestChunk // the binary's batches are this package's
	for i := range total {
		fmt.Fprintf(&all, `{"type":"Feature","id":"k%d","geometry":{"type":"Point","coordinates":[131.9,43.1]},"properties":{"time":%q}}`+"\n", i, at)
	}
	cmd := exec.Command(bin, "ingest", fifo, "--source", "bulk", "--db", db)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck // ended below unless the test failed
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := w.Write(all.Bytes()[:all.Len()*11/12]); err != nil { // 2¾ batches: the pipe stays open
		t.Fatal(err)
	}
	sources := func() []sourceJSON {
		out, err := exec.Command(bin, "sources", "--db", db, "--format", "json").Output()
		if err != nil {
			return nil // not created yet
		}
		var ss []sourceJSON
		if err := json.Unmarshal(out, &ss); err != nil {
			t.Fatalf("sources json: %v: %s", err, out)
		}
		return ss
	}
	if err := waitFor(2*time.Minute, func() bool {
		ss := sources()
		return len(ss) == 1 && ss[0].Last.Added >= stored
	}); err != nil {
		t.Fatalf("the first two batches never shown stored: %v\n%s", err, stderr.String())
	}
	cmd.Process.Signal(syscall.SIGKILL) //nolint:errcheck // checked by Wait
	cmd.Wait()                          //nolint:errcheck // killed
	ss := sources()
	if len(ss) != 1 || ss[0].LastError == nil || *ss[0].LastError != store.Running ||
		ss[0].Last.Added != stored || ss[0].Total.Added != stored || ss[0].LastSuccess != nil {
		t.Fatalf("after the kill: %+v, want last_error %q, %d added in the last run and in total, no success", ss, store.Running, stored)
	}
	t.Logf("killed ingest: last_error %q, last added %d, total added %d", *ss[0].LastError, ss[0].Last.Added, ss[0].Total.Added)

	file := filepath.Join(dir, "again.ndjson")
	if err := os.WriteFile(file, all.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "ingest", file, "--source", "bulk", "--db", db).CombinedOutput()
	if want := fmt.Sprintf("seen %d, added %d, updated 0, unchanged %d, rejected 0\n", total, total-stored, stored); err != nil || string(out) != want {
		t.Fatalf("rerun: %v: %q, want %q", err, out, want)
	}
	ss = sources()
	if len(ss) != 1 || ss[0].LastError != nil || ss[0].LastSuccess == nil || ss[0].Total.Added != total || ss[0].Last.Seen != total {
		t.Errorf("after the rerun: %+v, want success, %d seen last, %d added in total", ss, total, total)
	}
}
