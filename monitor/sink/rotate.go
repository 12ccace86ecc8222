package sink

import (
	"fmt"
	"os"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// Rotation sets when a File rotates its alerts file by size. The file is renamed
// with a UTC timestamp between its base name and extension
// (alerts-2026-11-26T18-00-00.000.jsonl) and a new one is started at the path.
type Rotation struct {
	// MaxSizeMB rotates the file before a line would take it past this many
	// megabytes (MiB). Zero means File never rotates.
	MaxSizeMB int
	// MaxBackups is how many rotated files are kept; 0 keeps all (up to MaxAge).
	MaxBackups int
	// MaxAge removes rotated files older than this, counted in whole days rounded
	// up; 0 keeps them (up to MaxBackups).
	MaxAge time.Duration
	// Compress gzips rotated files.
	Compress bool
}

// OpenRotatingFile is OpenFile with rotation. With a zero r.MaxSizeMB it is
// OpenFile.
//
// Rotation is lumberjack's (gopkg.in/natefinch/lumberjack.v2), which changes what
// File guarantees in these ways:
//
//   - Lines stay whole: each is one write, and a rotation happens between lines,
//     never inside one.
//   - Mode: File creates the file FileMode before lumberjack opens it, and
//     lumberjack gives each new file the mode of the one it rotates away, so
//     every alerts file and backup is FileMode (gzipped backups too). A file it
//     had to create on its own would be 0600: tighter, never wider.
//   - Sync: lumberjack does not expose its file, so after each line File opens the
//     path and fsyncs that descriptor. fsync flushes the file, not the descriptor,
//     so the line is on disk when Notify returns, as without rotation; only a
//     write-back error that happened before that open could go unreported.
//   - A file moved away or deleted by something else is recreated before the next
//     line, as without rotation. Do not also rotate it with logrotate.
//   - Removing and compressing old backups runs in lumberjack's own goroutine,
//     after the rotation. That goroutine has no stop path: each rotating File
//     (one per subscriber, per config load) leaves one idle goroutine behind
//     after Close, and a compression in progress at exit is left unfinished
//     (the uncompressed backup stays).
func OpenRotatingFile(path string, r Rotation) (*File, error) {
	if r.MaxSizeMB <= 0 {
		return OpenFile(path)
	}
	if r.MaxBackups < 0 || r.MaxAge < 0 {
		return nil, fmt.Errorf("sink: rotate %s: negative max backups or max age", path)
	}
	s := &File{
		path: path,
		rot: &lumberjack.Logger{
			Filename:   path,
			MaxSize:    r.MaxSizeMB,
			MaxBackups: r.MaxBackups,
			MaxAge:     days(r.MaxAge),
			Compress:   r.Compress,
		},
	}
	if err := s.prepare(); err != nil {
		return nil, err
	}
	return s, nil
}

// days is d in whole days, rounded up.
func days(d time.Duration) int {
	const day = 24 * time.Hour
	return int((d + day - 1) / day)
}

// prepare creates the file at the path with FileMode, or completes a cut last
// line of an existing one, for lumberjack to open next.
func (s *File) prepare() error {
	if err := s.open(); err != nil {
		return err
	}
	st, err := s.f.Stat()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	if err != nil {
		return fmt.Errorf("sink: open alerts file: %w", err)
	}
	s.held = st
	return nil
}

// writeRotating writes one line through lumberjack and syncs it. s.mu is held.
func (s *File) writeRotating(line []byte) error {
	if s.held != nil {
		named, err := os.Stat(s.path)
		if err != nil || !os.SameFile(s.held, named) {
			s.held = nil
		}
	}
	if s.held == nil {
		// Moved or deleted behind our back, or a failed write: lumberjack still
		// holds the old file, so close it and let it open the one prepare makes.
		s.rot.Close() //nolint:errcheck // the file is gone or failed already
		if err := s.prepare(); err != nil {
			return err
		}
	}
	if _, err := s.rot.Write(line); err != nil {
		s.held = nil
		return fmt.Errorf("sink: write %s: %w", s.path, err)
	}
	if err := s.syncPath(); err != nil {
		s.held = nil
		return fmt.Errorf("sink: sync %s: %w", s.path, err)
	}
	return nil
}

// syncPath fsyncs the file at the path, which is the one lumberjack just wrote:
// it rotates before a write, never after, and s.mu keeps other lines out.
func (s *File) syncPath() error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	s.held = st
	return nil
}
