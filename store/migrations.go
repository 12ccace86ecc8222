package store

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

// MigrationNames lists a backend's migrations, the files migrations/*.sql of
// fsys (its embedded tree), by name without the directory and .sql, in the
// order they apply.
func MigrationNames(fsys fs.FS) ([]string, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	for i, n := range names {
		names[i] = strings.TrimSuffix(strings.TrimPrefix(n, "migrations/"), ".sql")
	}
	slices.Sort(names)
	return names, nil
}

// CheckMigrations refuses a database migrated by a newer geowatch: one with a
// migration applied that is not among known, this binary's. Its schema may
// mean things this binary would get wrong. The error wraps ErrSchemaTooNew.
func CheckMigrations(applied map[string]bool, known []string) error {
	for v := range applied {
		if !slices.Contains(known, v) {
			return fmt.Errorf("%w: unknown migration %s", ErrSchemaTooNew, v)
		}
	}
	return nil
}
