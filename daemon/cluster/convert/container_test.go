package convert

import (
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

func TestContainerSpecVariants(t *testing.T) {
	tests := []struct {
		name string
		in   swarm.ContainerSpec
	}{
		{"hyperv, credential file, default seccomp and apparmor", swarm.ContainerSpec{
			Isolation: container.IsolationHyperV,
			Privileges: &swarm.Privileges{
				CredentialSpec: &swarm.CredentialSpec{File: "spec.json"},
				Seccomp:        &swarm.SeccompOpts{Mode: swarm.SeccompModeDefault},
				AppArmor:       &swarm.AppArmorOpts{Mode: swarm.AppArmorModeDefault},
			},
		}},
		{"credential registry, unconfined seccomp", swarm.ContainerSpec{
			Isolation: container.IsolationDefault,
			Privileges: &swarm.Privileges{
				CredentialSpec: &swarm.CredentialSpec{Registry: "HKLM"},
				Seccomp:        &swarm.SeccompOpts{Mode: swarm.SeccompModeUnconfined},
			},
		}},
		{"consistent bind mount, private propagation", swarm.ContainerSpec{
			Isolation: container.IsolationDefault,
			Mounts: []mount.Mount{{
				Type: mount.TypeBind, Source: "/a", Target: "/b", Consistency: mount.ConsistencyFull,
				BindOptions: &mount.BindOptions{Propagation: mount.PropagationPrivate, ReadOnlyForceRecursive: true},
			}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := containerSpecToGRPC(&tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if d := diff(&tt.in, ContainerSpecFromGRPC(g)); d != "" {
				t.Errorf("round trip (-in +out):\n%s", d)
			}
		})
	}
}

func TestContainerSpecFromGRPCDrops(t *testing.T) {
	got := ContainerSpecFromGRPC(&swarmapi.ContainerSpec{
		Secrets: []*swarmapi.SecretReference{nil, {SecretID: "no-target"}},
		Configs: []*swarmapi.ConfigReference{nil, {ConfigID: "no-target"}},
		Ulimits: []*swarmapi.ContainerSpec_Ulimit{nil},
		DNSConfig: &swarmapi.ContainerSpec_DNSConfig{
			Nameservers: []string{"1.1.1.1", "not-an-ip"},
		},
		Mounts: []swarmapi.Mount{{Type: swarmapi.MountTypeTmpfs, Target: "/t", TmpfsOptions: &swarmapi.Mount_TmpfsOptions{Options: "size=1m"}}},
	})
	if got.Secrets != nil || got.Configs != nil || got.Ulimits != nil {
		t.Errorf("references without a target kept: %+v %+v %+v", got.Secrets, got.Configs, got.Ulimits)
	}
	if len(got.DNSConfig.Nameservers) != 1 || got.DNSConfig.Nameservers[0].String() != "1.1.1.1" {
		t.Errorf("nameservers = %v", got.DNSConfig.Nameservers)
	}
	if o := got.Mounts[0].TmpfsOptions.Options; o != nil {
		t.Errorf("tmpfs options not in dockerd's form decoded to %v", o)
	}
	if got.Isolation != container.IsolationDefault {
		t.Errorf("isolation = %q, want default", got.Isolation)
	}
	if ContainerSpecFromGRPC(nil) != nil {
		t.Error("ContainerSpecFromGRPC(nil) != nil")
	}

	// An unknown consistency is the default, as Docker does not check it.
	g, err := containerSpecToGRPC(&swarm.ContainerSpec{Mounts: []mount.Mount{{Type: "VOLUME", Target: "/v", Consistency: "weird"}}})
	if err != nil {
		t.Fatal(err)
	}
	if m := g.Mounts[0]; m.Type != swarmapi.MountTypeVolume || m.Consistency != swarmapi.MountConsistencyDefault {
		t.Errorf("mount = %+v", m)
	}
}
