package lifecycle

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/errdefs"
	apicontainer "github.com/moby/moby/api/types/container"
	"github.com/opencontainers/cgroups"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Top is the lifecycle side of api/backend's ContainerTop: it runs the host's ps with the
// given arguments and keeps the rows of the container's processes, as
// dockerd does.
func (m *Manager) Top(ctx context.Context, name string, psArgs string) (*apicontainer.TopResponse, error) {
	_, task, err := m.runningTask(name)
	if err != nil {
		return nil, err
	}
	pids, err := task.Processes()
	if err != nil {
		return nil, fmt.Errorf("list processes of %s: %w", name, err)
	}
	if psArgs == "" {
		psArgs = "-ef"
	}
	out, err := exec.CommandContext(ctx, "ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return nil, errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("Error running ps: %v", err))
	}
	return filterPS(string(out), pids)
}

func filterPS(out string, pids []int) (*apicontainer.TopResponse, error) {
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) == 0 {
		return nil, fmt.Errorf("ps printed nothing")
	}
	titles := strings.Fields(lines[0])
	pidCol := -1
	for i, t := range titles {
		if t == "PID" {
			pidCol = i
		}
	}
	if pidCol < 0 {
		return nil, errdefs.ErrInvalidArgument.WithMessage("Couldn't find PID field in ps output")
	}
	want := map[int]bool{}
	for _, p := range pids {
		want[p] = true
	}
	resp := &apicontainer.TopResponse{Titles: titles, Processes: [][]string{}}
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) <= pidCol {
			continue
		}
		pid, err := strconv.Atoi(fields[pidCol])
		if err != nil || !want[pid] {
			continue
		}
		// The last column (the command) may contain spaces.
		row := fields
		if len(fields) > len(titles) {
			row = append(fields[:len(titles)-1:len(titles)-1], strings.Join(fields[len(titles)-1:], " "))
		}
		resp.Processes = append(resp.Processes, row)
	}
	return resp, nil
}

// Stats is the lifecycle side of api/backend's ContainerStats.
func (m *Manager) Stats(ctx context.Context, name string, stream bool, out func(*apicontainer.StatsResponse) error) error {
	c, err := m.containers.Get(name)
	if err != nil {
		return err
	}
	var prev *apicontainer.StatsResponse
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		s := &apicontainer.StatsResponse{ID: c.ID, Name: c.Name, Read: time.Now()}
		m.mu.Lock()
		task := m.tasks[c.ID]
		m.mu.Unlock()
		if task != nil {
			if cs, err := task.Stats(); err == nil {
				fillStats(s, cs)
			}
			s.Networks = m.networkStats(c.ID)
		}
		if prev != nil {
			s.PreRead = prev.Read
			s.PreCPUStats = prev.CPUStats
		}
		if err := out(s); err != nil {
			return err
		}
		if !stream || task == nil {
			return nil
		}
		prev = s
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

func fillStats(s *apicontainer.StatsResponse, cs *cgroups.Stats) {
	cpu := cs.CpuStats.CpuUsage
	s.CPUStats = apicontainer.CPUStats{
		CPUUsage: apicontainer.CPUUsage{
			TotalUsage:        cpu.TotalUsage,
			PercpuUsage:       cpu.PercpuUsage,
			UsageInKernelmode: cpu.UsageInKernelmode,
			UsageInUsermode:   cpu.UsageInUsermode,
		},
		SystemUsage: systemCPUUsage(),
		OnlineCPUs:  uint32(onlineCPUs()),
		ThrottlingData: apicontainer.ThrottlingData{
			Periods:          cs.CpuStats.ThrottlingData.Periods,
			ThrottledPeriods: cs.CpuStats.ThrottlingData.ThrottledPeriods,
			ThrottledTime:    cs.CpuStats.ThrottlingData.ThrottledTime,
		},
	}
	mem := cs.MemoryStats
	s.MemoryStats = apicontainer.MemoryStats{
		Usage:    mem.Usage.Usage,
		MaxUsage: mem.Usage.MaxUsage,
		Failcnt:  mem.Usage.Failcnt,
		Limit:    mem.Usage.Limit,
		Stats:    mem.Stats,
	}
	if total := memTotal(); total > 0 && (s.MemoryStats.Limit == 0 || s.MemoryStats.Limit > uint64(total)) {
		s.MemoryStats.Limit = uint64(total)
	}
	s.PidsStats = apicontainer.PidsStats{Current: cs.PidsStats.Current, Limit: cs.PidsStats.Limit}
	for _, e := range cs.BlkioStats.IoServiceBytesRecursive {
		s.BlkioStats.IoServiceBytesRecursive = append(s.BlkioStats.IoServiceBytesRecursive, apicontainer.BlkioStatEntry{
			Major: e.Major, Minor: e.Minor, Op: e.Op, Value: e.Value,
		})
	}
}

// systemCPUUsage is the host's total CPU time in nanoseconds, from
// /proc/stat, as Docker reports it.
func systemCPUUsage() uint64 {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 8 || fields[0] != "cpu" {
			continue
		}
		var ticks uint64
		for _, v := range fields[1:8] {
			n, _ := strconv.ParseUint(v, 10, 64)
			ticks += n
		}
		return ticks * uint64(time.Second) / 100 // USER_HZ is 100 on Linux
	}
	return 0
}

func onlineCPUs() int {
	n := 0
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "cpu") && len(line) > 3 && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	return n
}

// memTotal is the host's RAM in bytes, the memory limit of a container
// without one.
func memTotal() int64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}

// networkStats reads a container's interface counters from the host side
// of its veth pairs (what the host receives, the container sent), keyed
// by the interface name inside the container, as Docker's stats are.
func (m *Manager) networkStats(id string) map[string]apicontainer.NetworkStats {
	if m.net == nil {
		return nil
	}
	sb := m.net.Sandbox(id)
	if sb == nil {
		return nil
	}
	out := map[string]apicontainer.NetworkStats{}
	for _, ep := range sb.Endpoints {
		if ep.HostVeth == "" || ep.IfName == "" {
			continue
		}
		l, err := netlink.LinkByName(ep.HostVeth)
		if err != nil || l.Attrs().Statistics == nil {
			continue
		}
		st := l.Attrs().Statistics
		out[ep.IfName] = apicontainer.NetworkStats{
			RxBytes: st.TxBytes, RxPackets: st.TxPackets, RxErrors: st.TxErrors, RxDropped: st.TxDropped,
			TxBytes: st.RxBytes, TxPackets: st.RxPackets, TxErrors: st.RxErrors, TxDropped: st.RxDropped,
			EndpointID: ep.ID,
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
