package sqlite

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// TestCeiling stores every row, in transactions of batch rows, with and
// without the R*Tree.
func TestCeiling(t *testing.T) {
	var rows []CeilingRow
	for i := range 2500 {
		rows = append(rows, CeilingRow{ID: fmt.Sprintf("obs-%07d", i), Source: "bench", Kind: "fire",
			Time: "2026-11-26T00:00:00Z", Lat: 20 + float64(i%35), Lon: 100 + float64(i%50)})
	}
	for _, rtree := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "ceiling.db")
		took, err := Ceiling(t.Context(), path, rows, 1000, rtree)
		if err != nil || took <= 0 {
			t.Fatalf("Ceiling(rtree %v) = %v, %v", rtree, took, err)
		}
		c, err := sql.Open("sqlite3", path)
		if err != nil {
			t.Fatal(err)
		}
		var n, r int
		if err := c.QueryRow(`SELECT (SELECT count(*) FROM obs), (SELECT count(*) FROM rt)`).Scan(&n, &r); err != nil {
			t.Fatal(err)
		}
		c.Close()
		want := 0
		if rtree {
			want = len(rows)
		}
		if n != len(rows) || r != want {
			t.Errorf("rtree %v: %d rows, %d in the R*Tree; want %d, %d", rtree, n, r, len(rows), want)
		}
	}
}
