package convert

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	gogotypes "github.com/gogo/protobuf/types"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/swarm"
	swarmapi "github.com/moby/swarmkit/v2/api"
)

// ContainerSpecFromGRPC converts a task's container spec. Isolation is
// always set ("default" when SwarmKit has none), as dockerd shows it;
// secret references without a file target and config references with
// neither a file nor a runtime target are dropped, as dockerd drops them.
// PidsLimit is not here: dockerd shows it as Resources.Limits.Pids (see
// TaskSpecFromGRPC).
func ContainerSpecFromGRPC(c *swarmapi.ContainerSpec) *swarm.ContainerSpec {
	if c == nil {
		return nil
	}
	s := &swarm.ContainerSpec{
		Image:           c.Image,
		Labels:          c.Labels,
		Command:         c.Command,
		Args:            c.Args,
		Hostname:        c.Hostname,
		Env:             c.Env,
		Dir:             c.Dir,
		User:            c.User,
		Groups:          c.Groups,
		Privileges:      privilegesFromGRPC(c.Privileges),
		StopSignal:      c.StopSignal,
		TTY:             c.TTY,
		OpenStdin:       c.OpenStdin,
		ReadOnly:        c.ReadOnly,
		Mounts:          mountsFromGRPC(c.Mounts),
		StopGracePeriod: durationPtrFromGRPC(c.StopGracePeriod),
		Hosts:           c.Hosts,
		Secrets:         secretReferencesFromGRPC(c.Secrets),
		Configs:         configReferencesFromGRPC(c.Configs),
		Isolation:       isolationFromGRPC(c.Isolation),
		Sysctls:         c.Sysctls,
		CapabilityAdd:   c.CapabilityAdd,
		CapabilityDrop:  c.CapabilityDrop,
		OomScoreAdj:     c.OomScoreAdj,
	}
	if c.Init != nil {
		v := c.Init.Value
		s.Init = &v
	}
	if c.Healthcheck != nil {
		h := c.Healthcheck
		s.Healthcheck = &container.HealthConfig{
			Test:          h.Test,
			Interval:      durationFromGRPC(h.Interval),
			Timeout:       durationFromGRPC(h.Timeout),
			StartPeriod:   durationFromGRPC(h.StartPeriod),
			StartInterval: durationFromGRPC(h.StartInterval),
			Retries:       int(h.Retries),
		}
	}
	if d := c.DNSConfig; d != nil {
		s.DNSConfig = &swarm.DNSConfig{Search: d.Search, Options: d.Options}
		for _, ns := range d.Nameservers {
			if a, err := netip.ParseAddr(ns); err == nil {
				s.DNSConfig.Nameservers = append(s.DNSConfig.Nameservers, a)
			}
		}
	}
	for _, u := range c.Ulimits {
		if u != nil {
			s.Ulimits = append(s.Ulimits, &container.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		}
	}
	return s
}

// containerSpecToGRPC converts a service's container spec (PidsLimit is
// set by the caller from Resources.Limits.Pids).
func containerSpecToGRPC(s *swarm.ContainerSpec) (*swarmapi.ContainerSpec, error) {
	c := &swarmapi.ContainerSpec{
		Image:          s.Image,
		Labels:         s.Labels,
		Command:        s.Command,
		Args:           s.Args,
		Hostname:       s.Hostname,
		Env:            s.Env,
		Dir:            s.Dir,
		User:           s.User,
		Groups:         s.Groups,
		StopSignal:     s.StopSignal,
		TTY:            s.TTY,
		OpenStdin:      s.OpenStdin,
		ReadOnly:       s.ReadOnly,
		Hosts:          s.Hosts,
		Secrets:        secretReferencesToGRPC(s.Secrets),
		Isolation:      isolationToGRPC(s.Isolation),
		Sysctls:        s.Sysctls,
		CapabilityAdd:  s.CapabilityAdd,
		CapabilityDrop: s.CapabilityDrop,
		OomScoreAdj:    s.OomScoreAdj,
	}
	if s.Init != nil {
		c.Init = &gogotypes.BoolValue{Value: *s.Init}
	}
	if s.StopGracePeriod != nil {
		c.StopGracePeriod = gogotypes.DurationProto(*s.StopGracePeriod)
	}
	if h := s.Healthcheck; h != nil {
		c.Healthcheck = &swarmapi.HealthConfig{
			Test:          h.Test,
			Interval:      gogotypes.DurationProto(h.Interval),
			Timeout:       gogotypes.DurationProto(h.Timeout),
			StartPeriod:   gogotypes.DurationProto(h.StartPeriod),
			StartInterval: gogotypes.DurationProto(h.StartInterval),
			Retries:       int32(h.Retries),
		}
	}
	if d := s.DNSConfig; d != nil {
		c.DNSConfig = &swarmapi.ContainerSpec_DNSConfig{Search: d.Search, Options: d.Options}
		for _, ns := range d.Nameservers {
			c.DNSConfig.Nameservers = append(c.DNSConfig.Nameservers, ns.String())
		}
	}
	for _, u := range s.Ulimits {
		if u != nil {
			c.Ulimits = append(c.Ulimits, &swarmapi.ContainerSpec_Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard})
		}
	}
	var err error
	if c.Privileges, err = privilegesToGRPC(s.Privileges); err != nil {
		return nil, err
	}
	if c.Configs, err = configReferencesToGRPC(s.Configs); err != nil {
		return nil, err
	}
	if c.Mounts, err = mountsToGRPC(s.Mounts); err != nil {
		return nil, err
	}
	return c, nil
}

// isolationFromGRPC is "default" unless SwarmKit says process or hyperv.
func isolationFromGRPC(i swarmapi.ContainerSpec_Isolation) container.Isolation {
	switch i {
	case swarmapi.ContainerIsolationProcess:
		return container.IsolationProcess
	case swarmapi.ContainerIsolationHyperV:
		return container.IsolationHyperV
	default:
		return container.IsolationDefault
	}
}

// isolationToGRPC maps process and hyperv (any case); anything else is the
// runtime's default, as in dockerd.
func isolationToGRPC(i container.Isolation) swarmapi.ContainerSpec_Isolation {
	switch {
	case i.IsProcess():
		return swarmapi.ContainerIsolationProcess
	case i.IsHyperV():
		return swarmapi.ContainerIsolationHyperV
	default:
		return swarmapi.ContainerIsolationDefault
	}
}

func privilegesFromGRPC(p *swarmapi.Privileges) *swarm.Privileges {
	if p == nil {
		return nil
	}
	out := &swarm.Privileges{NoNewPrivileges: p.NoNewPrivileges}
	if cs := p.CredentialSpec; cs != nil {
		out.CredentialSpec = &swarm.CredentialSpec{}
		switch src := cs.Source.(type) {
		case *swarmapi.Privileges_CredentialSpec_Config:
			out.CredentialSpec.Config = src.Config
		case *swarmapi.Privileges_CredentialSpec_File:
			out.CredentialSpec.File = src.File
		case *swarmapi.Privileges_CredentialSpec_Registry:
			out.CredentialSpec.Registry = src.Registry
		}
	}
	if se := p.SELinuxContext; se != nil {
		out.SELinuxContext = &swarm.SELinuxContext{
			Disable: se.Disable, User: se.User, Role: se.Role, Type: se.Type, Level: se.Level,
		}
	}
	if sc := p.Seccomp; sc != nil {
		out.Seccomp = &swarm.SeccompOpts{Profile: sc.Profile}
		switch sc.Mode {
		case swarmapi.Privileges_SeccompOpts_DEFAULT:
			out.Seccomp.Mode = swarm.SeccompModeDefault
		case swarmapi.Privileges_SeccompOpts_UNCONFINED:
			out.Seccomp.Mode = swarm.SeccompModeUnconfined
		case swarmapi.Privileges_SeccompOpts_CUSTOM:
			out.Seccomp.Mode = swarm.SeccompModeCustom
		}
	}
	if aa := p.Apparmor; aa != nil {
		out.AppArmor = &swarm.AppArmorOpts{}
		switch aa.Mode {
		case swarmapi.Privileges_AppArmorOpts_DEFAULT:
			out.AppArmor.Mode = swarm.AppArmorModeDefault
		case swarmapi.Privileges_AppArmorOpts_DISABLED:
			out.AppArmor.Mode = swarm.AppArmorModeDisabled
		}
	}
	return out
}

// privilegesToGRPC converts the optional privileges. Unknown seccomp and
// AppArmor modes are the default mode, as in dockerd.
func privilegesToGRPC(p *swarm.Privileges) (*swarmapi.Privileges, error) {
	if p == nil {
		return nil, nil
	}
	out := &swarmapi.Privileges{NoNewPrivileges: p.NoNewPrivileges}
	if p.CredentialSpec != nil {
		cs, err := credentialSpecToGRPC(p.CredentialSpec)
		if err != nil {
			return nil, invalidArg("invalid CredentialSpec: %s", err)
		}
		out.CredentialSpec = cs
	}
	if se := p.SELinuxContext; se != nil {
		out.SELinuxContext = &swarmapi.Privileges_SELinuxContext{
			Disable: se.Disable, User: se.User, Role: se.Role, Type: se.Type, Level: se.Level,
		}
	}
	if sc := p.Seccomp; sc != nil {
		out.Seccomp = &swarmapi.Privileges_SeccompOpts{Profile: sc.Profile}
		switch sc.Mode {
		case swarm.SeccompModeUnconfined:
			out.Seccomp.Mode = swarmapi.Privileges_SeccompOpts_UNCONFINED
		case swarm.SeccompModeCustom:
			out.Seccomp.Mode = swarmapi.Privileges_SeccompOpts_CUSTOM
		default:
			out.Seccomp.Mode = swarmapi.Privileges_SeccompOpts_DEFAULT
		}
	}
	if aa := p.AppArmor; aa != nil {
		out.Apparmor = &swarmapi.Privileges_AppArmorOpts{}
		if aa.Mode == swarm.AppArmorModeDisabled {
			out.Apparmor.Mode = swarmapi.Privileges_AppArmorOpts_DISABLED
		}
	}
	return out, nil
}

// credentialSpecToGRPC takes exactly one of config, file and registry.
func credentialSpecToGRPC(c *swarm.CredentialSpec) (*swarmapi.Privileges_CredentialSpec, error) {
	var set []string
	if c.Config != "" {
		set = append(set, `"config"`)
	}
	if c.File != "" {
		set = append(set, `"file"`)
	}
	if c.Registry != "" {
		set = append(set, `"registry"`)
	}
	switch len(set) {
	case 0:
		return nil, fmt.Errorf(`must either provide "file", "registry", or "config" for credential spec`)
	case 1:
	case 2:
		return nil, fmt.Errorf("cannot specify both %s and %s credential specs", set[0], set[1])
	default:
		return nil, fmt.Errorf("cannot specify both %s, and %s credential specs",
			strings.Join(set[:len(set)-1], ", "), set[len(set)-1])
	}
	switch {
	case c.Config != "":
		return &swarmapi.Privileges_CredentialSpec{Source: &swarmapi.Privileges_CredentialSpec_Config{Config: c.Config}}, nil
	case c.File != "":
		return &swarmapi.Privileges_CredentialSpec{Source: &swarmapi.Privileges_CredentialSpec_File{File: c.File}}, nil
	default:
		return &swarmapi.Privileges_CredentialSpec{Source: &swarmapi.Privileges_CredentialSpec_Registry{Registry: c.Registry}}, nil
	}
}

func secretReferencesFromGRPC(refs []*swarmapi.SecretReference) []*swarm.SecretReference {
	var out []*swarm.SecretReference
	for _, r := range refs {
		if r == nil {
			continue
		}
		f := r.GetFile()
		if f == nil {
			continue
		}
		out = append(out, &swarm.SecretReference{
			File:       &swarm.SecretReferenceFileTarget{Name: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode},
			SecretID:   r.SecretID,
			SecretName: r.SecretName,
		})
	}
	return out
}

func secretReferencesToGRPC(refs []*swarm.SecretReference) []*swarmapi.SecretReference {
	var out []*swarmapi.SecretReference
	for _, r := range refs {
		if r == nil {
			continue
		}
		ref := &swarmapi.SecretReference{SecretID: r.SecretID, SecretName: r.SecretName}
		if f := r.File; f != nil {
			ref.Target = &swarmapi.SecretReference_File{File: &swarmapi.FileTarget{Name: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode}}
		}
		out = append(out, ref)
	}
	return out
}

func configReferencesFromGRPC(refs []*swarmapi.ConfigReference) []*swarm.ConfigReference {
	var out []*swarm.ConfigReference
	for _, r := range refs {
		if r == nil {
			continue
		}
		ref := &swarm.ConfigReference{ConfigID: r.ConfigID, ConfigName: r.ConfigName}
		if r.GetRuntime() != nil {
			ref.Runtime = &swarm.ConfigReferenceRuntimeTarget{}
		} else if f := r.GetFile(); f != nil {
			ref.File = &swarm.ConfigReferenceFileTarget{Name: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode}
		} else {
			continue
		}
		out = append(out, ref)
	}
	return out
}

// configReferencesToGRPC needs exactly one target per reference.
func configReferencesToGRPC(refs []*swarm.ConfigReference) ([]*swarmapi.ConfigReference, error) {
	var out []*swarmapi.ConfigReference
	for _, r := range refs {
		if r == nil {
			continue
		}
		ref := &swarmapi.ConfigReference{ConfigID: r.ConfigID, ConfigName: r.ConfigName}
		switch {
		case r.File == nil && r.Runtime == nil:
			return nil, invalidArg("invalid Config: either File or Runtime should be set")
		case r.File != nil && r.Runtime != nil:
			return nil, invalidArg("invalid Config: cannot specify both File and Runtime")
		case r.Runtime != nil:
			ref.Target = &swarmapi.ConfigReference_Runtime{Runtime: &swarmapi.RuntimeTarget{}}
		default:
			f := r.File
			ref.Target = &swarmapi.ConfigReference_File{File: &swarmapi.FileTarget{Name: f.Name, UID: f.UID, GID: f.GID, Mode: f.Mode}}
		}
		out = append(out, ref)
	}
	return out, nil
}

func mountsFromGRPC(ms []swarmapi.Mount) []mount.Mount {
	var out []mount.Mount
	for _, m := range ms {
		mt := mount.Mount{
			Type:     mount.Type(strings.ToLower(swarmapi.Mount_MountType_name[int32(m.Type)])),
			Source:   m.Source,
			Target:   m.Target,
			ReadOnly: m.ReadOnly,
		}
		if m.Consistency != swarmapi.MountConsistencyDefault {
			mt.Consistency = mount.Consistency(strings.ToLower(swarmapi.Mount_MountConsistency_name[int32(m.Consistency)]))
		}
		if b := m.BindOptions; b != nil {
			mt.BindOptions = &mount.BindOptions{
				Propagation:            mount.Propagation(strings.ToLower(swarmapi.Mount_BindOptions_MountPropagation_name[int32(b.Propagation)])),
				NonRecursive:           b.NonRecursive,
				CreateMountpoint:       b.CreateMountpoint,
				ReadOnlyNonRecursive:   b.ReadOnlyNonRecursive,
				ReadOnlyForceRecursive: b.ReadOnlyForceRecursive,
			}
		}
		if v := m.VolumeOptions; v != nil {
			mt.VolumeOptions = &mount.VolumeOptions{NoCopy: v.NoCopy, Labels: v.Labels, Subpath: v.Subpath}
			if v.DriverConfig != nil {
				mt.VolumeOptions.DriverConfig = &mount.Driver{Name: v.DriverConfig.Name, Options: v.DriverConfig.Options}
			}
		}
		if t := m.TmpfsOptions; t != nil {
			mt.TmpfsOptions = &mount.TmpfsOptions{
				SizeBytes: t.SizeBytes,
				Mode:      t.Mode,
				Options:   TmpfsOptionsFromGRPC(t.Options),
			}
		}
		out = append(out, mt)
	}
	return out
}

// mountsToGRPC converts mounts. An empty type is a bind mount, as in
// dockerd; unknown types and propagations are refused in Docker's words.
func mountsToGRPC(ms []mount.Mount) ([]swarmapi.Mount, error) {
	var out []swarmapi.Mount
	for _, m := range ms {
		mt := swarmapi.Mount{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if t, ok := swarmapi.Mount_MountType_value[strings.ToUpper(string(m.Type))]; ok {
			mt.Type = swarmapi.Mount_MountType(t)
		} else if m.Type != "" {
			return nil, invalidArg("invalid MountType: %q", m.Type)
		}
		// Docker does not check consistency (it only matters on Docker
		// Desktop): an unknown value is the default.
		if c, ok := swarmapi.Mount_MountConsistency_value[consistencyName(m.Consistency)]; ok {
			mt.Consistency = swarmapi.Mount_MountConsistency(c)
		}
		if b := m.BindOptions; b != nil {
			p, ok := swarmapi.Mount_BindOptions_MountPropagation_value[strings.ToUpper(string(b.Propagation))]
			if !ok && b.Propagation != "" {
				return nil, invalidArg("invalid MountPropagation: %q", b.Propagation)
			}
			if b.Propagation != "" || b.NonRecursive || b.CreateMountpoint || b.ReadOnlyNonRecursive || b.ReadOnlyForceRecursive {
				mt.BindOptions = &swarmapi.Mount_BindOptions{
					Propagation:            swarmapi.Mount_BindOptions_MountPropagation(p),
					NonRecursive:           b.NonRecursive,
					CreateMountpoint:       b.CreateMountpoint,
					ReadOnlyNonRecursive:   b.ReadOnlyNonRecursive,
					ReadOnlyForceRecursive: b.ReadOnlyForceRecursive,
				}
			}
		}
		if v := m.VolumeOptions; v != nil {
			mt.VolumeOptions = &swarmapi.Mount_VolumeOptions{NoCopy: v.NoCopy, Labels: v.Labels, Subpath: v.Subpath}
			if v.DriverConfig != nil {
				mt.VolumeOptions.DriverConfig = &swarmapi.Driver{Name: v.DriverConfig.Name, Options: v.DriverConfig.Options}
			}
		}
		if t := m.TmpfsOptions; t != nil {
			mt.TmpfsOptions = &swarmapi.Mount_TmpfsOptions{
				SizeBytes: t.SizeBytes,
				Mode:      t.Mode,
				Options:   TmpfsOptionsToGRPC(t.Options),
			}
		}
		out = append(out, mt)
	}
	return out, nil
}

// consistencyName is SwarmKit's enum name for an Engine consistency.
func consistencyName(c mount.Consistency) string {
	switch strings.ToLower(string(c)) {
	case string(mount.ConsistencyFull):
		return "CONSISTENT"
	case string(mount.ConsistencyCached):
		return "CACHED"
	case string(mount.ConsistencyDelegated):
		return "DELEGATED"
	default:
		return "DEFAULT"
	}
}

// TmpfsOptionsToGRPC encodes the Engine's tmpfs options ([["noexec"],
// ["uid","1000"]]) into SwarmKit's string field as dockerd does: as their
// JSON. No options is the empty string.
func TmpfsOptionsToGRPC(options [][]string) string {
	if len(options) == 0 {
		return ""
	}
	b, err := json.Marshal(options)
	if err != nil {
		return ""
	}
	return string(b)
}

// TmpfsOptionsFromGRPC decodes what TmpfsOptionsToGRPC encoded; anything
// else is no options.
func TmpfsOptionsFromGRPC(options string) [][]string {
	if options == "" {
		return nil
	}
	var out [][]string
	if err := json.Unmarshal([]byte(options), &out); err != nil {
		return nil
	}
	return out
}
