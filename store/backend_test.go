package store

import (
	"strings"
	"testing"
)

func TestKindOfAndRedact(t *testing.T) {
	for _, tc := range []struct {
		database string
		kind     Kind
		redacted string
	}{
		{"./geowatch.gpkg", SQLite, "./geowatch.gpkg"},
		{"/var/lib/geowatch/password=x.gpkg", SQLite, "/var/lib/geowatch/password=x.gpkg"},
		{"postgres://geowatch@db/geowatch", PostgreSQL, "postgres://geowatch@db/geowatch"},
		{"postgres://geowatch:s3cret@db:5432/geowatch?sslmode=verify-full", PostgreSQL, "postgres://geowatch:xxxxx@db:5432/geowatch?sslmode=verify-full"},
		{"postgresql://db/geowatch?user=g&password=s3cret", PostgreSQL, "postgresql://db/geowatch?password=xxxxx&user=g"},
		{"postgres://geowatch:s3%cret@db/geowatch", PostgreSQL, "postgres://(unparseable URL, not shown)"},
		{"host=db dbname=geowatch password=s3cret sslmode=require", PostgreSQL, "host=db dbname=geowatch password=xxxxx sslmode=require"},
		{"host=db password='s3 cret' dbname=geowatch", PostgreSQL, "host=db password=xxxxx dbname=geowatch"},
	} {
		if k := KindOf(tc.database); k != tc.kind {
			t.Errorf("KindOf(%q) = %v, want %v", tc.database, k, tc.kind)
		}
		r := Redact(tc.database)
		if r != tc.redacted {
			t.Errorf("Redact(%q) = %q, want %q", tc.database, r, tc.redacted)
		}
		if strings.Contains(r, "s3") {
			t.Errorf("Redact(%q) = %q shows the password", tc.database, r)
		}
	}
}
