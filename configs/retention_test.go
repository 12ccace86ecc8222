package configs

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRetention(t *testing.T) {
	base := `database: x.db
retention: 90d
watches:
  - name: vlad
    place: Vladivostok
    radius: 50km
    rules:
      - type: count
        min: 3
        window: 6h
`
	t.Run("default schedule", func(t *testing.T) {
		c, err := Parse([]byte(base))
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Build()
		if err != nil {
			t.Fatal(err)
		}
		if p.Retention != 90*24*time.Hour || p.RetentionSchedule != DefaultRetentionSchedule {
			t.Errorf("retention %v on %q, want 2160h on %q", p.Retention, p.RetentionSchedule, DefaultRetentionSchedule)
		}
	})
	t.Run("off by default", func(t *testing.T) {
		c, err := Parse([]byte(strings.Replace(base, "retention: 90d\n", "", 1)))
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Build()
		if err != nil {
			t.Fatal(err)
		}
		if p.Retention != 0 || p.RetentionSchedule != "" {
			t.Errorf("retention %v on %q, want off", p.Retention, p.RetentionSchedule)
		}
	})
	tests := []struct {
		name      string
		from, to  string
		wantField string
		wantLine  int
		wantErr   error
	}{
		{"bad duration", "retention: 90d", "retention: 90 days", "retention", 2, nil},
		{"zero", "retention: 90d", "retention: 0s", "retention", 2, ErrNotPositive},
		{"bad schedule", "retention: 90d\n", "retention: 90d\nretention_schedule: sometimes\n", "retention_schedule", 3, nil},
		{"schedule without retention", "retention: 90d\n", "retention_schedule: \"@daily\"\n", "retention_schedule", 2, ErrNotApplied},
		{"shorter than a window", "retention: 90d", "retention: 1h", "retention", 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(base, tc.from, tc.to, 1)
			_, err := Parse([]byte(src))
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse = %v, want a *FieldError", err)
			}
			if fe.Field != tc.wantField || fe.Line != tc.wantLine {
				t.Errorf("error at line %d, %s; want line %d, %s (%v)", fe.Line, fe.Field, tc.wantLine, tc.wantField, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error %v does not wrap %v", err, tc.wantErr)
			}
		})
	}
}
