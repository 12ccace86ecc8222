package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/geowatch/geowatch/store"
	"github.com/geowatch/geowatch/store/postgis/pgtest"
)

// TestPostgresRestart stops the PostgreSQL server under a running daemon:
// pushes are answered 503 (nothing is acknowledged that is not stored),
// /readyz turns 503 naming the store, the failures are one error line
// however many pushes fail, and once the server is back the daemon
// reconnects by itself: a push is stored, readiness returns and the streak's
// count is logged. Every push answered 200 is stored, once.
func TestPostgresRestart(t *testing.T) {
	srv := pgtest.Start(t)
	database := srv.URL()
	base, r := pushDaemon(t, database, "")
	client := &http.Client{Timeout: time.Minute}
	ready := func() (int, string) {
		resp, err := client.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	acked := 0
	for i := range 3 {
		if a := postPush(t, client, base, pushBody(fmt.Sprintf("before%d", i), 10, 10)); a.code != 200 {
			t.Fatalf("push before the restart = %d %s", a.code, a.body)
		}
		acked += 10
	}

	srv.Stop()
	const down = 5
	for i := range down {
		if a := postPush(t, client, base, pushBody(fmt.Sprintf("down%d", i), 10, 10)); a.code != 503 {
			t.Fatalf("push %d while PostgreSQL is down = %d %s, want 503", i, a.code, a.body)
		}
	}
	if code, body := ready(); code != 503 || body != "not ready: store\n" {
		t.Errorf("/readyz while PostgreSQL is down = %d %q, want 503 \"not ready: store\"", code, body)
	}
	if l := r.out.find(t, "push ingest failed"); len(l) != 1 {
		t.Errorf("%d \"push ingest failed\" lines for %d failed pushes, want 1: %v", len(l), down, l)
	}

	srv.Start()
	if a := postPush(t, client, base, pushBody("after", 10, 10)); a.code != 200 {
		t.Fatalf("push after PostgreSQL is back = %d %s, want 200", a.code, a.body)
	}
	acked += 10
	if code, body := ready(); code != 200 {
		t.Errorf("/readyz after PostgreSQL is back = %d %q, want 200", code, body)
	}
	rec := r.out.find(t, "push ingest recovered")
	if len(rec) != 1 || rec[0]["failures"] != float64(down) {
		t.Errorf("recovery lines = %v, want one with failures %d", rec, down)
	}

	st, err := openStore(t.Context(), database, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.CountObservations(t.Context()); err != nil || n != int64(acked) {
		t.Errorf("stored %d observations (%v), want the %d acknowledged", n, err, acked)
	}
	if strings.Contains(r.out.buf.String(), "down0-") {
		t.Errorf("a push refused while the server was down was stored or logged as stored")
	}
}

// TestPostgresPasswordRedacted: a password in the database URL appears in
// no error, log line or command output; database_password_file supplies one
// without putting it in the config.
func TestPostgresPasswordRedacted(t *testing.T) {
	const secret = "hunter2-s3cret"
	dir := t.TempDir()
	// Nothing listens on this port: connecting fails, and the error must
	// name the database without its password.
	database := "postgres://geowatch:" + secret + "@" + freeAddr(t) + "/geowatch?sslmode=disable&connect_timeout=2"
	cfg := filepath.Join(dir, "geowatch.yaml")
	writeFile(t, cfg, "database: "+database+"\nsources: []\n")
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	err := run(ctx, []string{"sources", "--config", cfg}, &out, &errOut)
	if err == nil {
		t.Fatal("sources on an unreachable PostgreSQL succeeded")
	}
	for what, s := range map[string]string{"error": err.Error(), "stdout": out.String(), "stderr": errOut.String()} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the password: %s", what, s)
		}
	}
	if !strings.Contains(err.Error(), "xxxxx") {
		t.Errorf("error %q does not name the (redacted) database", err)
	}
	t.Logf("error: %v", err)

	// The password from a file: the daemon reaches a server that wants one.
	srv := pgtest.Start(t)
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "pgpassword")
	if err := os.WriteFile(pw, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.RequirePassword(t, "geowatch", secret)
	u.User = url.User("geowatch")
	writeFile(t, cfg, "database: "+u.String()+"\ndatabase_password_file: "+pw+"\nsources: []\n")
	out.Reset()
	errOut.Reset()
	if err := run(ctx, []string{"ingest", "--config", cfg, "--source", "field", "--format", "geojson", writeFeed(t, dir)}, &out, &errOut); err != nil {
		t.Fatalf("ingest with database_password_file: %v\n%s", err, errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), secret) {
		t.Errorf("ingest output shows the password")
	}
}

// writeFeed writes a small GeoJSON file for ingest and returns its path.
func writeFeed(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "feed.geojson")
	writeFile(t, p, pushBody("file", 3, 10))
	return p
}

// TestReadmePostgres does what the README's PostgreSQL lines do: the
// default config with its database line pointed at PostgreSQL, run as the
// daemon, fires on the default scenario's watches and stores the alerts in
// PostgreSQL.
func TestReadmePostgres(t *testing.T) {
	database := pgtest.URL(t)
	def, err := os.ReadFile(filepath.Join("..", "..", "configs", "default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // the default config writes ./alerts.jsonl
	cfg := regexp.MustCompile(`(?m)^database: .*$`).ReplaceAll(def, []byte("database: "+database))
	writeFile(t, "pg.yaml", string(cfg))
	out := runFor(t, "pg.yaml", func(b *syncBuffer) bool { return len(b.find(t, "alert firing")) >= 3 })
	st, err := openStore(t.Context(), database, store.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	as, err := st.Alerts(t.Context(), store.AlertFilter{})
	if err != nil {
		t.Fatal(err)
	}
	watches := map[string]bool{}
	for _, a := range as {
		watches[a.Watch] = true
	}
	if !watches["vladivostok"] || !watches["khasan-tumangang"] || !watches["khasan-vladivostok-railway"] {
		t.Errorf("alerts stored in PostgreSQL on %v, want vladivostok, khasan-tumangang and khasan-vladivostok-railway; log:\n%s", watches, out.buf.String())
	}
	if _, err := os.Stat("geowatch.gpkg"); err == nil {
		t.Error("a geowatch.gpkg was written: the daemon did not use PostgreSQL alone")
	}
}
