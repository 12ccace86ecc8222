// Package pgtest gives tests a real PostgreSQL with PostGIS: a fresh
// database on the server CI starts (.ci/postgres, whose URL .ci/run exports
// as GEOWATCH_TEST_POSTGRES), or a private server of their own for tests that
// stop and restart it.
//
// Outside CI a test without a server skips, saying how to get one; in CI
// (CI=true) it fails, so a broken setup is never a silent pass.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding the shared server's URL.
const EnvURL = "GEOWATCH_TEST_POSTGRES"

// template is the database .ci/postgres creates with PostGIS in it.
const template = "geowatch_template"

var seq atomic.Int64

// missing skips or, in CI, fails t for want of a server.
func missing(t testing.TB, why string) {
	t.Helper()
	msg := fmt.Sprintf("no PostgreSQL for this test (%s): run `export %s=$(bash .ci/postgres start $(mktemp -d))` from the repository root", why, EnvURL)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// URL returns the URL of a new, empty database with PostGIS, dropped when
// the test ends.
func URL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		missing(t, EnvURL+" is not set")
	}
	return newDatabase(t, base)
}

// newDatabase creates a database from the PostGIS template on the server
// base names and returns its URL.
func newDatabase(t testing.TB, base string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", base, err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("gw_%d_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6, seq.Add(1))
	// Creating from a template fails while another session uses it; tests
	// creating databases at once take turns.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+template)
		if err == nil || !strings.Contains(err.Error(), "is being accessed by other users") || i == 50 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the other session's CREATE DATABASE
	}
	if err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			return // the server is gone with the test (a private one)
		}
		defer conn.Close(ctx)
		conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") //nolint:errcheck // best effort
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// Server is a private PostgreSQL server that a test may stop and start.
type Server struct {
	t   testing.TB
	dir string
	url string
}

// Start starts a private server for t (stopped when t ends) and returns it.
// It needs .ci/postgres's binaries; like URL, it skips outside CI without them.
func Start(t testing.TB) *Server {
	t.Helper()
	script := ciScript()
	bin := os.Getenv("GEOWATCH_TEST_PGBIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		missing(t, "no initdb in "+bin)
	}
	dir, err := os.MkdirTemp("", "geowatch-pg-")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{t: t, dir: dir}
	out, err := exec.Command("bash", script, "start", dir).Output()
	if err != nil {
		t.Fatalf("pgtest: start a server: %v\n%s", err, stderr(err))
	}
	s.url = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		exec.Command("bash", script, "stop", dir).Run() //nolint:errcheck // may be stopped already
		os.RemoveAll(dir)
	})
	return s
}

// URL returns the URL of a new database with PostGIS on s.
func (s *Server) URL() string { return newDatabase(s.t, s.url) }

// RequirePassword creates the superuser role user with password, and has s
// ask it for that password on 127.0.0.1 (scram), as a production server
// would; other roles stay trusted.
func (s *Server) RequirePassword(t testing.TB, user, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.url)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN SUPERUSER PASSWORD '%s'", user, password)); err != nil {
		t.Fatalf("pgtest: create role: %v", err)
	}
	hba := filepath.Join(s.dir, "data", "pg_hba.conf")
	old, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	rule := fmt.Sprintf("host all %s 127.0.0.1/32 scram-sha-256\n", user)
	if err := os.WriteFile(hba, append([]byte(rule), old...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatalf("pgtest: reload: %v", err)
	}
}

// Stop stops s fast: connections are cut, as on a crash or a restart.
func (s *Server) Stop() { s.pgctl("-m", "fast", "-w", "stop") }

// Start starts s again on its port.
func (s *Server) Start() { s.pgctl("-w", "-t", "60", "start") }

func (s *Server) pgctl(args ...string) {
	s.t.Helper()
	bin := os.Getenv("GEOWATCH_TEST_PGBIN")
	if bin == "" {
		bin = "/usr/lib/postgresql/15/bin"
	}
	cmd := append([]string{filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(s.dir, "data"), "-l", filepath.Join(s.dir, "server.log")}, args...)
	if os.Getuid() == 0 {
		cmd = append([]string{"runuser", "-u", "postgres", "--"}, cmd...)
	}
	if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
		s.t.Fatalf("pgtest: pg_ctl %v: %v\n%s", args, err, out)
	}
}

// ciScript is .ci/postgres at the repository root, found from this file.
func ciScript() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", ".ci", "postgres")
}

func stderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
