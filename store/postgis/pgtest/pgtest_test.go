package pgtest_test

import (
	"context"
	"testing"

	"github.com/geowatch/geowatch/store/postgis/pgtest"
	"github.com/jackc/pgx/v5"
)

// TestURL: a database from URL has PostGIS, and survives a restart of a
// private server.
func TestServerRestart(t *testing.T) {
	for name, url := range map[string]func() string{
		"shared": func() string { return pgtest.URL(t) },
	} {
		u := url()
		conn, err := pgx.Connect(context.Background(), u)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var v string
		if err := conn.QueryRow(context.Background(), "SELECT postgis_lib_version()").Scan(&v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		conn.Close(context.Background())
	}
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
