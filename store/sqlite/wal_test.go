package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"

	"github.com/geowatch/geowatch/monitor"
	"github.com/paulmach/orb"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
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

// TestWALLimits: a reader holding a snapshot while batches commit grows the
// WAL past wal_warn (one warning per threshold crossed, naming the cause;
// WALStatus reports it) and then to wal_max, where Ingest is refused with
// ErrWALLimit. Once the reader leaves, the checkpointer truncates the WAL,
// says so, and ingest works again.
func TestWALLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.gpkg")
	core, logs := observer.New(zapcore.InfoLevel)
	db, err := Open(t.Context(), path, store.WithWALLimits(1<<20, 4<<20), store.WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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
		for i := range 500 {
			b.Observations = append(b.Observations, monitor.Observation{
				ID: fmt.Sprintf("l%d-%d", k, i), Time: t0.Add(-time.Duration(i) * time.Second),
				Point: orb.Point{100 + float64(i%50)/10, 20 + float64(i/50)}, Kind: "k", Title: "wal filler",
			})
		}
		return b
	}
	var refused error
	for k := 0; refused == nil; k++ {
		if k == 200 {
			t.Fatalf("no ingest refused after %d batches; WAL %d bytes", k, fileSize(path+"-wal"))
		}
		_, refused = db.Ingest(t.Context(), "wal", batch(k), t0)
		// The checkpointer looks at the WAL after each commit's kick; wait for
		// its look so that every threshold is seen on the way up.
		size := fileSize(path + "-wal")
		deadline := time.Now().Add(10 * time.Second)
		for db.walBytes.Load() != size && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if !errors.Is(refused, ErrWALLimit) {
		t.Fatalf("refused with %v, want ErrWALLimit", refused)
	}
	size, err := db.WALStatus()
	if err == nil || size < 4<<20 || !strings.Contains(err.Error(), "read transaction") {
		t.Errorf("WALStatus = %d, %v; want past 4 MiB with the cause", size, err)
	}
	var thresholds []int64
	for _, e := range logs.FilterMessage("wal growing past threshold").All() {
		thresholds = append(thresholds, e.ContextMap()["threshold_bytes"].(int64))
		if c, _ := e.ContextMap()["cause"].(string); !strings.Contains(c, "read transaction") {
			t.Errorf("warning without the cause: %v", e.ContextMap())
		}
	}
	if want := []int64{1 << 20, 2 << 20}; !slices.Equal(thresholds, want) && !slices.Equal(thresholds, append(want, 4<<20)) {
		t.Errorf("warned at %v, want once at each of 1 and 2 MiB (and 4 MiB)", thresholds)
	}
	t.Logf("long reader: refused at WAL %.1f MiB; warned at %v", float64(size)/(1<<20), thresholds)

	if err := reader.Rollback(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for logs.FilterMessage("wal back under threshold").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("WAL not truncated after the reader left: %d bytes", fileSize(path+"-wal"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := db.WALStatus(); err != nil {
		t.Errorf("WALStatus after truncation: %v", err)
	}
	ingest(t, db, "wal", batch(1000))
}
