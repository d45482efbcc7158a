package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	containertypes "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/cli/command"
	"github.com/berth-project/berth/cli/command/formatter"
)

const defaultStatsFormat = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

var statsHeaders = formatter.Headers{"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
	"MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}

// statsContext is one row of `stats`, computed from a sample.
type statsContext struct {
	container, id, name string
	cpu, memPerc        float64
	mem, limit          float64
	rx, tx, rd, wr      float64
	pids                uint64
	noTrunc             bool
}

func (s statsContext) Container() string { return s.container }

func (s statsContext) ID() string {
	if s.noTrunc {
		return s.id
	}
	return formatter.ShortID(s.id)
}

func (s statsContext) Name() string { return strings.TrimPrefix(s.name, "/") }

func (s statsContext) CPUPerc() string { return fmt.Sprintf("%.2f%%", s.cpu) }

func (s statsContext) MemUsage() string {
	return formatter.HumanBinary(int64(s.mem)) + " / " + formatter.HumanBinary(int64(s.limit))
}

func (s statsContext) MemPerc() string { return fmt.Sprintf("%.2f%%", s.memPerc) }

func (s statsContext) NetIO() string {
	return formatter.HumanSize(int64(s.rx)) + " / " + formatter.HumanSize(int64(s.tx))
}

func (s statsContext) BlockIO() string {
	return formatter.HumanSize(int64(s.rd)) + " / " + formatter.HumanSize(int64(s.wr))
}

func (s statsContext) PIDs() string { return fmt.Sprint(s.pids) }

func (s statsContext) MarshalJSON() ([]byte, error) {
	return formatter.ContextJSON(s, []string{"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"})
}

// statsRow computes docker's derived figures from one sample.
func statsRow(name string, v containertypes.StatsResponse) statsContext {
	s := statsContext{container: name, id: v.ID, name: v.Name, pids: v.PidsStats.Current}
	cpuDelta := float64(v.CPUStats.CPUUsage.TotalUsage) - float64(v.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(v.CPUStats.SystemUsage) - float64(v.PreCPUStats.SystemUsage)
	online := float64(v.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(v.CPUStats.CPUUsage.PercpuUsage))
	}
	if sysDelta > 0 && cpuDelta > 0 {
		s.cpu = cpuDelta / sysDelta * online * 100
	}
	mem := float64(v.MemoryStats.Usage)
	if c, ok := v.MemoryStats.Stats["total_inactive_file"]; ok && float64(c) < mem {
		mem -= float64(c)
	} else if c, ok := v.MemoryStats.Stats["inactive_file"]; ok && float64(c) < mem {
		mem -= float64(c)
	}
	s.mem, s.limit = mem, float64(v.MemoryStats.Limit)
	if s.limit > 0 {
		s.memPerc = mem / s.limit * 100
	}
	for _, n := range v.Networks {
		s.rx += float64(n.RxBytes)
		s.tx += float64(n.TxBytes)
	}
	for _, e := range v.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(e.Op) {
		case "read":
			s.rd += float64(e.Value)
		case "write":
			s.wr += float64(e.Value)
		}
	}
	return s
}

// NewStatsCommand is `stats`.
func NewStatsCommand(cli *command.Cli) *cobra.Command {
	var all, noStream, noTrunc bool
	var format string
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: cli.WithAPI(func(ctx context.Context, api client.APIClient, args []string) error {
			names := args
			if len(names) == 0 {
				res, err := api.ContainerList(ctx, client.ContainerListOptions{All: all})
				if err != nil {
					return err
				}
				for _, c := range res.Items {
					names = append(names, c.ID)
				}
			}
			for {
				rows := make([]any, len(names))
				var wg sync.WaitGroup
				var mu sync.Mutex
				var errs []string
				for i, n := range names {
					wg.Add(1)
					go func() {
						defer wg.Done()
						res, err := api.ContainerStats(ctx, n, client.ContainerStatsOptions{Stream: false, IncludePreviousSample: true})
						var v containertypes.StatsResponse
						if err == nil {
							err = json.NewDecoder(res.Body).Decode(&v)
							res.Body.Close()
						}
						if err != nil {
							mu.Lock()
							errs = append(errs, err.Error())
							mu.Unlock()
							rows[i] = statsContext{container: n, id: n, name: "--"}
							return
						}
						row := statsRow(n, v)
						row.noTrunc = noTrunc
						rows[i] = row
					}()
				}
				wg.Wait()
				if noStream && len(errs) > 0 && len(errs) == len(names) {
					return errors.New(strings.Join(errs, "\n"))
				}
				if !noStream {
					fmt.Fprint(cli.Out, "\033[2J\033[H")
				}
				if err := formatter.List(cli.Out, format, defaultStatsFormat, statsHeaders, rows); err != nil {
					return err
				}
				if noStream {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		}),
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "Show all containers (default shows just running)")
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "Disable streaming stats and only pull the first result")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "Do not truncate output")
	cmd.Flags().StringVar(&format, "format", "", "Format output using a custom template")
	return cmd
}
