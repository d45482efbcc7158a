package cluster

import (
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/containerd/errdefs"
	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"

	"github.com/berth-project/berth/api/backend"
	"github.com/berth-project/berth/daemon/cluster/convert"
)

func getSecret(ctx context.Context, ctl swarmapi.ControlClient, input string) (*swarmapi.Secret, error) {
	return resolve("secret", input,
		func(id string) (*swarmapi.Secret, error) {
			r, err := ctl.GetSecret(ctx, &swarmapi.GetSecretRequest{SecretID: id})
			if err != nil {
				return nil, err
			}
			return r.Secret, nil
		},
		func(name string) ([]*swarmapi.Secret, error) {
			r, err := ctl.ListSecrets(ctx, &swarmapi.ListSecretsRequest{Filters: &swarmapi.ListSecretsRequest_Filters{Names: []string{name}}})
			if err != nil {
				return nil, err
			}
			return r.Secrets, nil
		},
		func(prefix string) ([]*swarmapi.Secret, error) {
			r, err := ctl.ListSecrets(ctx, &swarmapi.ListSecretsRequest{Filters: &swarmapi.ListSecretsRequest_Filters{IDPrefixes: []string{prefix}}})
			if err != nil {
				return nil, err
			}
			return r.Secrets, nil
		})
}

func getConfig(ctx context.Context, ctl swarmapi.ControlClient, input string) (*swarmapi.Config, error) {
	return resolve("config", input,
		func(id string) (*swarmapi.Config, error) {
			r, err := ctl.GetConfig(ctx, &swarmapi.GetConfigRequest{ConfigID: id})
			if err != nil {
				return nil, err
			}
			return r.Config, nil
		},
		func(name string) ([]*swarmapi.Config, error) {
			r, err := ctl.ListConfigs(ctx, &swarmapi.ListConfigsRequest{Filters: &swarmapi.ListConfigsRequest_Filters{Names: []string{name}}})
			if err != nil {
				return nil, err
			}
			return r.Configs, nil
		},
		func(prefix string) ([]*swarmapi.Config, error) {
			r, err := ctl.ListConfigs(ctx, &swarmapi.ListConfigsRequest{Filters: &swarmapi.ListConfigsRequest_Filters{IDPrefixes: []string{prefix}}})
			if err != nil {
				return nil, err
			}
			return r.Configs, nil
		})
}

// SecretList implements backend.Cluster.
func (c *Cluster) SecretList(ctx context.Context, f backend.Filters) ([]swarm.Secret, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return nil, err
	}
	lf, err := convert.SecretFilters(f)
	if err != nil {
		return nil, err
	}
	r, err := ctl.ListSecrets(ctx, &swarmapi.ListSecretsRequest{Filters: lf})
	if err != nil {
		return nil, statusErr(err)
	}
	out := make([]swarm.Secret, 0, len(r.Secrets))
	for _, s := range r.Secrets {
		out = append(out, convert.SecretFromGRPC(s))
	}
	return out, nil
}

// SecretCreate implements backend.Cluster.
func (c *Cluster) SecretCreate(ctx context.Context, spec swarm.SecretSpec) (string, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return "", err
	}
	r, err := ctl.CreateSecret(ctx, &swarmapi.CreateSecretRequest{Spec: ptr(convert.SecretSpecToGRPC(spec))})
	if err != nil {
		return "", statusErr(err)
	}
	return r.Secret.ID, nil
}

// SecretInspect implements backend.Cluster.
func (c *Cluster) SecretInspect(ctx context.Context, id string) (swarm.Secret, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return swarm.Secret{}, err
	}
	s, err := getSecret(ctx, ctl, id)
	if err != nil {
		return swarm.Secret{}, err
	}
	return convert.SecretFromGRPC(s), nil
}

// SecretUpdate implements backend.Cluster.
func (c *Cluster) SecretUpdate(ctx context.Context, id string, version uint64, spec swarm.SecretSpec) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	s, err := getSecret(ctx, ctl, id)
	if err != nil {
		return err
	}
	_, err = ctl.UpdateSecret(ctx, &swarmapi.UpdateSecretRequest{SecretID: s.ID, SecretVersion: &swarmapi.Version{Index: version}, Spec: ptr(convert.SecretSpecToGRPC(spec))})
	return statusErr(err)
}

// SecretRemove implements backend.Cluster.
func (c *Cluster) SecretRemove(ctx context.Context, id string) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	s, err := getSecret(ctx, ctl, id)
	if err != nil {
		return err
	}
	_, err = ctl.RemoveSecret(ctx, &swarmapi.RemoveSecretRequest{SecretID: s.ID})
	return statusErr(err)
}

// ConfigList implements backend.Cluster.
func (c *Cluster) ConfigList(ctx context.Context, f backend.Filters) ([]swarm.Config, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return nil, err
	}
	lf, err := convert.ConfigFilters(f)
	if err != nil {
		return nil, err
	}
	r, err := ctl.ListConfigs(ctx, &swarmapi.ListConfigsRequest{Filters: lf})
	if err != nil {
		return nil, statusErr(err)
	}
	out := make([]swarm.Config, 0, len(r.Configs))
	for _, s := range r.Configs {
		out = append(out, convert.ConfigFromGRPC(s))
	}
	return out, nil
}

// ConfigCreate implements backend.Cluster.
func (c *Cluster) ConfigCreate(ctx context.Context, spec swarm.ConfigSpec) (string, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return "", err
	}
	r, err := ctl.CreateConfig(ctx, &swarmapi.CreateConfigRequest{Spec: ptr(convert.ConfigSpecToGRPC(spec))})
	if err != nil {
		return "", statusErr(err)
	}
	return r.Config.ID, nil
}

// ConfigInspect implements backend.Cluster.
func (c *Cluster) ConfigInspect(ctx context.Context, id string) (swarm.Config, error) {
	ctl, _, _, err := c.manager()
	if err != nil {
		return swarm.Config{}, err
	}
	s, err := getConfig(ctx, ctl, id)
	if err != nil {
		return swarm.Config{}, err
	}
	return convert.ConfigFromGRPC(s), nil
}

// ConfigUpdate implements backend.Cluster.
func (c *Cluster) ConfigUpdate(ctx context.Context, id string, version uint64, spec swarm.ConfigSpec) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	s, err := getConfig(ctx, ctl, id)
	if err != nil {
		return err
	}
	_, err = ctl.UpdateConfig(ctx, &swarmapi.UpdateConfigRequest{ConfigID: s.ID, ConfigVersion: &swarmapi.Version{Index: version}, Spec: ptr(convert.ConfigSpecToGRPC(spec))})
	return statusErr(err)
}

// ConfigRemove implements backend.Cluster.
func (c *Cluster) ConfigRemove(ctx context.Context, id string) error {
	ctl, _, _, err := c.manager()
	if err != nil {
		return err
	}
	s, err := getConfig(ctx, ctl, id)
	if err != nil {
		return err
	}
	_, err = ctl.RemoveConfig(ctx, &swarmapi.RemoveConfigRequest{ConfigID: s.ID})
	return statusErr(err)
}

func ptr[T any](v T) *T { return &v }

// ServiceLogs implements backend.Cluster: the logs of a service's (or one
// task's) containers on every node, through SwarmKit's log broker.
func (c *Cluster) ServiceLogs(ctx context.Context, id string, opts backend.ServiceLogsOptions, write func(backend.ServiceLogMessage) error) error {
	ctl, logs, _, err := c.manager()
	if err != nil {
		return err
	}
	sel := &swarmapi.LogSelector{}
	if opts.Task {
		t, err := getTask(ctx, ctl, id)
		if err != nil {
			return err
		}
		sel.TaskIDs = []string{t.ID}
	} else {
		s, err := getService(ctx, ctl, id, false)
		if err != nil {
			return err
		}
		sel.ServiceIDs = []string{s.ID}
	}
	lo := &swarmapi.LogSubscriptionOptions{Follow: opts.Follow}
	if opts.Stdout {
		lo.Streams = append(lo.Streams, swarmapi.LogStreamStdout)
	}
	if opts.Stderr {
		lo.Streams = append(lo.Streams, swarmapi.LogStreamStderr)
	}
	if opts.Tail != "" && opts.Tail != "all" {
		n, err := strconv.Atoi(opts.Tail)
		if err != nil || n < 0 {
			return errdefs.ErrInvalidArgument.WithMessage(fmt.Sprintf("invalid tail value %q", opts.Tail))
		}
		lo.Tail = int64(-n - 1) // SwarmKit counts from the end offset by one
	}
	if !opts.Since.IsZero() {
		if ts, err := gogotypes.TimestampProto(opts.Since); err == nil {
			lo.Since = ts
		}
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := logs.SubscribeLogs(ctx, &swarmapi.SubscribeLogsRequest{Selector: sel, Options: lo})
	if err != nil {
		return statusErr(err)
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF || ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return statusErr(err)
		}
		for _, m := range resp.Messages {
			msg := backend.ServiceLogMessage{
				Stream: "stdout", Line: m.Data,
				ServiceID: m.Context.ServiceID, TaskID: m.Context.TaskID, NodeID: m.Context.NodeID,
				Attrs: []string{
					"com.docker.swarm.node.id=" + m.Context.NodeID,
					"com.docker.swarm.service.id=" + m.Context.ServiceID,
					"com.docker.swarm.task.id=" + m.Context.TaskID,
				},
			}
			if m.Stream == swarmapi.LogStreamStderr {
				msg.Stream = "stderr"
			}
			if m.Timestamp != nil {
				if t, err := gogotypes.TimestampFromProto(m.Timestamp); err == nil {
					msg.Time = t
				}
			}
			for _, a := range m.Attrs {
				msg.Attrs = append(msg.Attrs, a.Key+"="+a.Value)
			}
			if err := write(msg); err != nil {
				return err
			}
		}
	}
}
