package measure

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"gorm.io/gorm"
)

// Machine describes where the figures were measured: they mean little
// without it.
type Machine struct {
	CPU      string
	Cores    int
	OS       string
	Go       string
	Postgres string
	Settings string // the server settings that move these figures most
	Load     string // the load average when the run started and ended (Linux)
}

// DescribeMachine reads the machine and the server of db.
func DescribeMachine(ctx context.Context, db *gorm.DB) (Machine, error) {
	m := Machine{
		CPU:   cpuModel(),
		Cores: runtime.NumCPU(),
		OS:    runtime.GOOS + "/" + runtime.GOARCH,
		Go:    runtime.Version(),
	}
	var version string
	if err := db.WithContext(ctx).Raw("SELECT version()").Scan(&version).Error; err != nil {
		return m, fmt.Errorf("bench: read the server version: %w", err)
	}
	m.Postgres, _, _ = strings.Cut(version, " on ")
	var settings []struct{ Name, Setting, Unit string }
	err := db.WithContext(ctx).Raw(`SELECT name, setting, coalesce(unit, '') AS unit FROM pg_settings
		WHERE name IN ('shared_buffers', 'synchronous_commit', 'max_connections', 'fsync') ORDER BY name`).Scan(&settings).Error
	if err != nil {
		return m, fmt.Errorf("bench: read the server settings: %w", err)
	}
	var parts []string
	for _, s := range settings {
		v := s.Setting
		if s.Name == "shared_buffers" && s.Unit == "8kB" {
			var pages int64
			fmt.Sscan(s.Setting, &pages)
			v = fmt.Sprintf("%dMB", pages*8/1024)
		}
		parts = append(parts, s.Name+"="+v)
	}
	m.Settings = strings.Join(parts, " ")
	return m, nil
}

// LoadAverage reads the 1-minute load average from /proc/loadavg (Linux),
// or returns "" where that is not available. Other work on the same cores
// shows in the figures' tails first.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

// cpuModel reads the CPU's model name from /proc/cpuinfo (Linux), or
// returns the architecture where that is not available.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func (m Machine) write(w io.Writer, markdown bool) {
	lines := []string{
		fmt.Sprintf("CPU: %s, %d cores (%s)", m.CPU, m.Cores, m.OS),
		"Go: " + m.Go,
		fmt.Sprintf("%s (%s)", m.Postgres, m.Settings),
	}
	if m.Load != "" {
		lines = append(lines, "Load average (1 min) at start and end: "+m.Load)
	}
	for _, l := range lines {
		if markdown {
			fmt.Fprintf(w, "- %s\n", l)
		} else {
			fmt.Fprintln(w, l)
		}
	}
}
