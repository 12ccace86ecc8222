package pgtest_test

import (
	"context"
	"testing"

	"github.com/geowatch/geowatch/store/postgis/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestURL: a database from URL has PostGIS.
func TestURL(t *testing.T) {
	conn, err := pgx.Connect(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var v string
	if err := conn.QueryRow(context.Background(), "SELECT postgis_lib_version()").Scan(&v); err != nil {
		t.Fatal(err)
	}
}

// TestServerRestart: a private server's database is unreachable while it is
// stopped and reachable again after it starts.
func TestServerRestart(t *testing.T) {
	s := pgtest.Start(t)
	u := s.URL()
	s.Stop()
	if _, err := pgx.Connect(context.Background(), u); err == nil {
		t.Fatal("connected to a stopped server")
	}
	s.Start()
	conn, err := pgx.Connect(context.Background(), u)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	conn.Close(context.Background())
}
