package postgis

import (
	"context"
	"testing"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/postgis/pgtest"
	"github.com/geowatch/geowatch/store/storetest"
)

// TestContract runs the store contract (store/storetest) against PostgreSQL:
// each subtest gets a new database (pgtest), and a restart is Close and
// Open of the same URL.
func TestContract(t *testing.T) {
	open := func(t *testing.T, url string) store.Backend {
		t.Helper()
		db, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	urls := map[store.Backend]string{}
	another := func(t *testing.T, b store.Backend) store.Backend { // a second handle on b's database
		nb := open(t, urls[b])
		urls[nb] = urls[b]
		return nb
	}
	storetest.Run(t,
		func(t *testing.T) store.Backend {
			u := pgtest.URL(t)
			b := open(t, u)
			urls[b] = u
			return b
		},
		func(t *testing.T, b store.Backend) store.Backend {
			t.Helper()
			if err := b.Close(); err != nil {
				t.Fatalf("close before reopening: %v", err)
			}
			return another(t, b)
		},
		another)
}
