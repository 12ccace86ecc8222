package store

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
)

// TestWALTruncatedAfterStarvation: a reader that keeps a snapshot open lets the
// WAL grow past walTruncateBytes, since no checkpoint can restart it; once the
// reader leaves, the checkpointer truncates it after the next commit.
func TestWALTruncatedAfterStarvation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.gpkg")
	db := openTestDB(t, path)

	reader, err := db.r.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRow(`SELECT count(*) FROM observations`).Scan(&n); err != nil { // takes the snapshot
		t.Fatal(err)
	}
	batch := func(k int) monitor.Batch {
		var b monitor.Batch
		for i := range 5000 {
			b.Observations = append(b.Observations, monitor.Observation{
				ID: fmt.Sprintf("w%d-%d", k, i), Time: t0.Add(-time.Duration(i) * time.Second),
				Point: orb.Point{100 + float64(i%500)/10, 20 + float64(i/500)}, Kind: "k", Title: "wal filler",
			})
		}
		return b
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	for k := 0; walSize() < walTruncateBytes; k++ {
		if k == 40 {
			t.Fatalf("WAL only %d bytes after %d batches", walSize(), k)
		}
		ingest(t, db, "wal", batch(k))
	}
	grown := walSize()
	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	ingest(t, db, "wal", batch(1000))
	deadline := time.Now().Add(5 * time.Second)
	for walSize() >= walTruncateBytes && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := walSize(); got >= walTruncateBytes {
		t.Errorf("WAL still %d bytes (was %d) after the reader left", got, grown)
	}
	checkRtree(t, db)
}
