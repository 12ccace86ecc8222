// Package spool is a directory source: other programs drop GeoJSON files into a
// directory and geowatch takes each one as a batch, moving it to done/ once the
// batch is stored, or to failed/ (with a .err note) when it cannot be read.
//
// Writers must make each file appear complete: write it as a dot-file
// (".report.geojson") or a "*.tmp" file in the directory, or anywhere on the
// same filesystem, then rename it to its final name, which is atomic. Those
// names are ignored. As a backstop for writers that do not, a file is taken only
// once its modification time is Settle before the pull's now.
//
// Only regular files are read. Symbolic links and other special files are never
// followed: they are moved to failed/ as they are. All access goes through an
// os.Root, so nothing outside the directory is touched.
//
// It imports monitor, monitor/source/geojson and the standard library.
package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/geowatch/geowatch/monitor"
	"github.com/geowatch/geowatch/monitor/source/geojson"
)

// Defaults for Options' zero values, and the subdirectories files move to.
const (
	DefaultSettle   = 2 * time.Second
	DefaultMaxFiles = 100
	DefaultMaxBytes = 256 << 20

	DoneDir   = "done"
	FailedDir = "failed"
)

// Options configure a spool Source; zero values take the defaults.
type Options struct {
	// Settle (settle) is how long a file must have been unmodified before it is
	// taken (default 2 s).
	Settle time.Duration
	// MaxFiles (max_files) bounds the files taken per pull (default 100), so that
	// a backlog drains over several pulls instead of holding one for long.
	MaxFiles int
	// MaxBytes (max_bytes) is the largest file read (default 256 MiB); larger
	// files go to failed/.
	MaxBytes int64
	// GeoJSON maps the files' properties (the same keys as a geojson source).
	GeoJSON geojson.Options
}

// Source takes the spooled files of one directory. Its Pull may be called
// concurrently; calls run one at a time.
type Source struct {
	dir string
	opt Options
	mu  sync.Mutex
}

// New returns a Source for dir, which must exist when Pull runs; done/ and
// failed/ are created in it as needed, mode 0750.
func New(dir string, opt Options) *Source {
	if opt.Settle <= 0 {
		opt.Settle = DefaultSettle
	}
	if opt.MaxFiles <= 0 {
		opt.MaxFiles = DefaultMaxFiles
	}
	if opt.MaxBytes <= 0 {
		opt.MaxBytes = DefaultMaxBytes
	}
	return &Source{dir: dir, opt: opt}
}

// badFileError is a file that will never parse: it goes to failed/.
type badFileError struct{ err error }

func (e *badFileError) Error() string { return e.err.Error() }
func (e *badFileError) Unwrap() error { return e.err }

// Pull takes up to MaxFiles settled files in name order. Each is parsed and
// emitted as its own batch with the file's path as Origin, then moved to done/
// (a name already there gets a "-1", "-2"… suffix). A file that is not
// GeoJSON, too large or not a regular file goes to failed/ next to a
// <name>.err saying why. If emit fails the file stays for the next pull and Pull
// returns at once with the error. Other failures (a read error, a failed move)
// are joined into the returned error while the remaining files are taken.
func (s *Source) Pull(ctx context.Context, now time.Time, emit monitor.EmitFunc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	defer root.Close()
	files, err := s.ready(root, now)
	if err != nil {
		return fmt.Errorf("spool: list %s: %w", s.dir, err)
	}
	var errs []error
	for _, fi := range files {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		name := fi.Name()
		b, err := s.read(root, fi)
		var bad *badFileError
		if errors.As(err, &bad) {
			if err := s.quarantine(root, name, bad); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("spool: read %s: %w", s.path(name), err))
			continue
		}
		b.Origin = s.path(name)
		if err := emit(ctx, b); err != nil {
			// The store is down: this file and the rest wait for the next pull.
			return errors.Join(append(errs, fmt.Errorf("spool: emit %s: %w", b.Origin, err))...)
		}
		if _, err := moveInto(root, name, DoneDir); err != nil {
			// The batch is stored; the file will be emitted again next pull, which
			// the store counts as unchanged duplicates.
			errs = append(errs, fmt.Errorf("spool: %s stored but not moved to %s: %w", b.Origin, DoneDir, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Source) path(name string) string { return filepath.Join(s.dir, name) }

// ready lists the files to take now: spool names in name order, settled unless
// they are not regular files (which go straight to failed/), at most MaxFiles.
func (s *Source) ready(root *os.Root, now time.Time) ([]fs.FileInfo, error) {
	entries, err := fs.ReadDir(root.FS(), ".") // sorted by name; types are not followed
	if err != nil {
		return nil, err
	}
	var files []fs.FileInfo
	for _, e := range entries {
		if len(files) == s.opt.MaxFiles {
			break
		}
		if e.IsDir() || !spooled(e.Name()) {
			continue
		}
		fi, err := e.Info() // Lstat
		if errors.Is(err, fs.ErrNotExist) {
			continue // taken away since the listing
		}
		if err != nil {
			return nil, err
		}
		if fi.Mode().IsRegular() && now.Sub(fi.ModTime()) < s.opt.Settle {
			continue
		}
		files = append(files, fi)
	}
	return files, nil
}

// spooled reports whether name is one the spool takes.
func spooled(name string) bool {
	if strings.HasPrefix(name, ".") {
		return false
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".geojson", ".json", ".ndjson":
		return true
	}
	return false
}

// read parses a listed file. Failures that retrying cannot mend are a
// *badFileError.
func (s *Source) read(root *os.Root, listed fs.FileInfo) (monitor.Batch, error) {
	name := listed.Name()
	if !listed.Mode().IsRegular() {
		return monitor.Batch{}, &badFileError{fmt.Errorf("not a regular file (%s); not followed", listed.Mode().Type())}
	}
	// O_NONBLOCK so that a FIFO swapped in since the listing cannot block the
	// open; the SameFile check then refuses anything but the listed file, such
	// as a symlink swapped in (which os.Root would follow inside the directory).
	f, err := root.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return monitor.Batch{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return monitor.Batch{}, err
	}
	if !os.SameFile(fi, listed) {
		return monitor.Batch{}, errors.New("replaced since listed; trying again next pull")
	}
	if fi.Size() > s.opt.MaxBytes {
		return monitor.Batch{}, &badFileError{fmt.Errorf("%d bytes, more than max_bytes %d", fi.Size(), s.opt.MaxBytes)}
	}
	data, err := io.ReadAll(io.LimitReader(f, s.opt.MaxBytes+1))
	if err != nil {
		return monitor.Batch{}, err
	}
	if int64(len(data)) > s.opt.MaxBytes {
		return monitor.Batch{}, &badFileError{fmt.Errorf("more than max_bytes %d", s.opt.MaxBytes)}
	}
	b, err := geojson.Parse(data, s.opt.GeoJSON)
	if err != nil {
		return monitor.Batch{}, &badFileError{err}
	}
	return b, nil
}

// quarantine moves name to failed/ and writes why next to it.
func (s *Source) quarantine(root *os.Root, name string, why error) error {
	moved, err := moveInto(root, name, FailedDir)
	if err != nil {
		return fmt.Errorf("spool: %s unreadable (%v) but not moved to %s: %w", s.path(name), why, FailedDir, err)
	}
	msg := fmt.Sprintf("%s: %v\n", name, why)
	if err := root.WriteFile(moved+".err", []byte(msg), 0o640); err != nil {
		return fmt.Errorf("spool: write %s.err: %w", s.path(moved), err)
	}
	return nil
}

// moveInto renames name into the subdirectory dir, creating it, and returns
// its new name relative to the root. An existing file of that name is never
// replaced: the new one gets the first free suffix, "report-1.geojson".
func moveInto(root *os.Root, name, dir string) (string, error) {
	if err := root.Mkdir(dir, 0o750); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	if err := isDir(root, dir); err != nil {
		return "", err
	}
	ext := path.Ext(name)
	base := strings.TrimSuffix(name, ext)
	for i := range 1000 {
		target := path.Join(dir, name)
		if i > 0 {
			target = path.Join(dir, fmt.Sprintf("%s-%d%s", base, i, ext))
		}
		// failed/ keeps a .err beside each file: its name must be free too.
		t, err := taken(root, target)
		if err == nil && !t && dir == FailedDir {
			t, err = taken(root, target+".err")
		}
		if err != nil {
			return "", err
		}
		if t {
			continue
		}
		// Only this Source moves files within the spool, under its lock, so the
		// name stays free between the check and the rename.
		return target, root.Rename(name, target)
	}
	return "", fmt.Errorf("no free name for %s in %s", name, dir)
}

// isDir checks that dir is a directory of the spool itself: a symbolic link
// (even to a directory) or a file in its place is an error saying so, since
// os.Root would refuse every move through it.
func isDir(root *os.Root, dir string) error {
	fi, err := root.Lstat(dir)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		target, _ := root.Readlink(dir)
		return fmt.Errorf("%s/ is a symbolic link (to %q), not a directory: replace it with a directory", dir, target)
	case !fi.IsDir():
		return fmt.Errorf("%s/ is not a directory (%s): replace it with a directory", dir, fi.Mode().Type())
	}
	return nil
}

// taken reports whether name exists; an error other than its absence (it
// cannot be looked at) is returned rather than read as "taken".
func taken(root *os.Root, name string) (bool, error) {
	_, err := root.Lstat(name)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}
