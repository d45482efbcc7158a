package visualizer

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// sample takes one stats sample of a container (with the previous one,
// so the CPU figure is a rate).
func sample(ctx context.Context, api API, id string) (Usage, error) {
	res, err := api.ContainerStats(ctx, id, client.ContainerStatsOptions{Stream: false, IncludePreviousSample: true})
	if err != nil {
		return Usage{}, fmt.Errorf("stats of %s: %w", id, err)
	}
	defer res.Body.Close()
	var v container.StatsResponse
	if err := json.NewDecoder(res.Body).Decode(&v); err != nil {
		return Usage{}, fmt.Errorf("decode stats of %s: %w", id, err)
	}
	return usageOf(v), nil
}

// usageOf computes docker stats' CPU % and memory figures from a sample.
func usageOf(v container.StatsResponse) Usage {
	var u Usage
	cpuDelta := float64(v.CPUStats.CPUUsage.TotalUsage) - float64(v.PreCPUStats.CPUUsage.TotalUsage)
	sysDelta := float64(v.CPUStats.SystemUsage) - float64(v.PreCPUStats.SystemUsage)
	online := float64(v.CPUStats.OnlineCPUs)
	if online == 0 {
		online = float64(len(v.CPUStats.CPUUsage.PercpuUsage))
	}
	if sysDelta > 0 && cpuDelta > 0 {
		u.CPUPercent = cpuDelta / sysDelta * online * 100
	}
	mem := v.MemoryStats.Usage
	if c, ok := v.MemoryStats.Stats["total_inactive_file"]; ok && c < mem {
		mem -= c
	} else if c, ok := v.MemoryStats.Stats["inactive_file"]; ok && c < mem {
		mem -= c
	}
	u.MemoryBytes, u.MemoryLimit = int64(mem), int64(v.MemoryStats.Limit)
	return u
}
