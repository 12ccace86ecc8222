package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPushConcurrentSenders: 8 senders push at once to a daemon with
// durability: full, as the README's push example does, so their batches share
// commits (group commit). Every answer says exactly what happened to its
// records: each request's 10 good records stored (added or duplicates of
// another sender's, never lost to a neighbour's batch) and its bad one
// rejected; the answers' sums are the rows in the file.
func TestPushConcurrentSenders(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "geowatch.gpkg")
	base, _ := pushDaemonConfig(t, dbPath, "durability: full\n", "", "")
	const senders, requests, ids = 8, 15, 200
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second).Format(time.RFC3339)
	feature := func(id string, lat float64) string {
		return fmt.Sprintf(`{"type":"Feature","id":%q,"geometry":{"type":"Point","coordinates":[131.88,%v]},"properties":{"time":%q}}`, id, lat, at)
	}
	type answer struct {
		code int
		resp struct {
			Stored, Added, Updated, Duplicates int
			Rejected                           []struct {
				Index int
				Field string
			}
		}
	}
	answers := make([][]answer, senders)
	client := &http.Client{Timeout: time.Minute}
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for k := range requests {
				var fs []string
				for i := range 10 {
					fs = append(fs, feature(fmt.Sprintf("r%d", (g*requests*10+k*10+i*13)%ids), 43.11))
				}
				fs = append(fs, feature(fmt.Sprintf("bad-%d-%d", g, k), 95)) // latitude out of range
				body := `{"type":"FeatureCollection","features":[` + strings.Join(fs, ",") + `]}`
				resp, err := client.Post(base+"/v1/observations", "application/geo+json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				var a answer
				a.code = resp.StatusCode
				err = json.NewDecoder(resp.Body).Decode(&a.resp)
				resp.Body.Close()
				if err != nil {
					t.Error(err)
					return
				}
				answers[g] = append(answers[g], a)
			}
		})
	}
	wg.Wait()
	var added, stored int
	for g, as := range answers {
		for k, a := range as {
			r := a.resp
			if a.code != http.StatusUnprocessableEntity || r.Stored != 10 || r.Added+r.Updated+r.Duplicates != 10 || r.Updated != 0 ||
				len(r.Rejected) != 1 || r.Rejected[0].Index != 10 || r.Rejected[0].Field != "geometry.coordinates" {
				t.Errorf("sender %d request %d: %d %+v; want 422, 10 stored (added or duplicates), record 10 rejected on geometry.coordinates", g, k, a.code, r)
			}
			added += r.Added
			stored += r.Stored
		}
	}
	db, err := sql.Open(analystDriver, "file:"+dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rows, rejects int
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM observations), (SELECT count(*) FROM rejects)`).Scan(&rows, &rejects); err != nil {
		t.Fatal(err)
	}
	if rows != added || rows != ids || stored != senders*requests*10 || rejects != senders*requests {
		t.Errorf("answers added %d and stored %d; the file holds %d rows (want %d) and %d rejects (want %d)",
			added, stored, rows, ids, rejects, senders*requests)
	}
}
