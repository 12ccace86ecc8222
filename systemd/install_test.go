package systemd

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// install runs install.sh into destdir with a stand-in binary and returns its output.
func install(t *testing.T, destdir, prefix string, args ...string) string {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"install.sh"}, args...)...)
	cmd.Env = append(os.Environ(), "DESTDIR="+destdir, "PREFIX="+prefix)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("install.sh %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

func fakeBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "geowatch")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\necho geowatch\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestInstall installs into a temporary DESTDIR twice, checking files, modes
// and contents, that a second run keeps an edited config, and that --uninstall
// removes what it installed and keeps the config.
func TestInstall(t *testing.T) {
	dest := t.TempDir()
	bin := fakeBinary(t)
	install(t, dest, "/opt/geowatch", "--binary", bin, "--no-systemctl")

	want := []struct {
		path string
		mode fs.FileMode
		same string // the repository file it must equal, if any
	}{
		{"opt/geowatch/bin/geowatch", 0o755, bin},
		{"etc/systemd/system/geowatch.service", 0o644, ""},
		{"etc/sysusers.d/geowatch.conf", 0o644, "geowatch.sysusers"},
		{"etc/tmpfiles.d/geowatch.conf", 0o644, "geowatch.tmpfiles"},
		{"etc/geowatch", fs.ModeDir | 0o750, ""},
		{"etc/geowatch/geowatch.yaml", 0o640, "../configs/geowatch.yaml"},
	}
	for _, w := range want {
		fi, err := os.Stat(filepath.Join(dest, w.path))
		if err != nil {
			t.Error(err)
			continue
		}
		if got := fi.Mode() & (fs.ModeDir | fs.ModePerm); got != w.mode {
			t.Errorf("%s: mode %v, want %v", w.path, got, w.mode)
		}
		if w.same != "" && readFile(t, filepath.Join(dest, w.path)) != readFile(t, w.same) {
			t.Errorf("%s differs from %s", w.path, w.same)
		}
	}
	unit := readFile(t, filepath.Join(dest, "etc/systemd/system/geowatch.service"))
	for _, line := range []string{
		"ExecStartPre=/opt/geowatch/bin/geowatch check-config /etc/geowatch/geowatch.yaml\n",
		"ExecStart=/opt/geowatch/bin/geowatch run --config /etc/geowatch/geowatch.yaml\n",
	} {
		if !strings.Contains(unit, line) {
			t.Errorf("installed unit lacks %q", line)
		}
	}
	if strings.Contains(unit, "/usr/local/bin") {
		t.Error("installed unit still names /usr/local/bin with PREFIX=/opt/geowatch")
	}

	// Idempotent: a second run succeeds and keeps an edited config.
	conf := filepath.Join(dest, "etc/geowatch/geowatch.yaml")
	if err := os.WriteFile(conf, []byte("# edited\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	out := install(t, dest, "/opt/geowatch", "--binary", bin) // DESTDIR implies --no-systemctl
	if got := readFile(t, conf); got != "# edited\n" {
		t.Errorf("second install overwrote the config: %q", got)
	}
	if !strings.Contains(out, "kept "+conf) {
		t.Errorf("second install did not say it kept the config:\n%s", out)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dest, "*/*/*.new")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	install(t, dest, "/opt/geowatch", "--uninstall")
	for _, w := range want[:4] {
		if _, err := os.Stat(filepath.Join(dest, w.path)); err == nil {
			t.Errorf("%s still there after --uninstall", w.path)
		}
	}
	if got := readFile(t, conf); got != "# edited\n" {
		t.Errorf("--uninstall touched the config: %q", got)
	}
}

// TestInstalledUnitVerifies runs systemd-analyze verify on the unit as installed
// with the default PREFIX, and applies the sysusers.d and tmpfiles.d files to
// the temporary root with systemd's own tools.
func TestInstalledUnitVerifies(t *testing.T) {
	dest := t.TempDir()
	bin := fakeBinary(t)
	install(t, dest, "/usr/local", "--binary", bin)
	tool := func(name string) bool {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s not found (.ci/run installs systemd)", name)
			}
			t.Logf("%s not found; skipping its check", name)
			return false
		}
		return true
	}
	if tool("systemd-analyze") {
		// verify wants ExecStart='s binary to exist: point it at the stand-in.
		unit := readFile(t, filepath.Join(dest, "etc/systemd/system/geowatch.service"))
		path := filepath.Join(t.TempDir(), "geowatch.service")
		if err := os.WriteFile(path, []byte(strings.ReplaceAll(unit, "/usr/local/bin/geowatch", bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}
	if tool("systemd-sysusers") {
		conf := filepath.Join(dest, "etc/sysusers.d/geowatch.conf")
		if out, err := exec.Command("systemd-sysusers", "--root="+dest, conf).CombinedOutput(); err != nil {
			t.Fatalf("systemd-sysusers: %v\n%s", err, out)
		}
		if passwd := readFile(t, filepath.Join(dest, "etc/passwd")); !strings.Contains(passwd, "geowatch:x:") ||
			!strings.Contains(passwd, ":/var/lib/geowatch:") {
			t.Errorf("no geowatch user with home /var/lib/geowatch in passwd:\n%s", passwd)
		}
	}
	if os.Geteuid() == 0 && tool("systemd-tmpfiles") {
		conf := filepath.Join(dest, "etc/tmpfiles.d/geowatch.conf")
		if out, err := exec.Command("systemd-tmpfiles", "--root="+dest, "--create", conf).CombinedOutput(); err != nil {
			t.Fatalf("systemd-tmpfiles: %v\n%s", err, out)
		}
		for path, mode := range map[string]fs.FileMode{
			"var/lib/geowatch":       fs.ModeDir | 0o750,
			"var/lib/geowatch/spool": fs.ModeDir | fs.ModeSetgid | 0o770,
		} {
			fi, err := os.Stat(filepath.Join(dest, path))
			if err != nil {
				t.Error(err)
			} else if got := fi.Mode() & (fs.ModeDir | fs.ModeSetgid | fs.ModePerm); got != mode {
				t.Errorf("%s: mode %v, want %v", path, got, mode)
			}
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
