package stack

import (
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/tree"
)

// supported lists every compose attribute Convert honours, as compose-go
// path patterns ("*" any key, "[]" any list item). Whatever a file holds
// outside it is reported, so an attribute the specification gains later
// is refused until it is deliberately wired in.
const supported = `
version
name
include
include.[].path
include.[].env_file
include.[].project_directory
services
services.*
services.*.image
services.*.command
services.*.entrypoint
services.*.environment
services.*.environment.*
services.*.env_file
services.*.env_file.[].path
services.*.env_file.[].format
services.*.env_file.[].required
services.*.extends
services.*.extends.file
services.*.extends.service
services.*.labels
services.*.labels.*
services.*.label_file
services.*.hostname
services.*.user
services.*.working_dir
services.*.stop_grace_period
services.*.stop_signal
services.*.tty
services.*.stdin_open
services.*.read_only
services.*.init
services.*.cap_add
services.*.cap_drop
services.*.sysctls
services.*.sysctls.*
services.*.ulimits
services.*.ulimits.*
services.*.ulimits.*.soft
services.*.ulimits.*.hard
services.*.oom_score_adj
services.*.group_add
services.*.dns
services.*.dns_search
services.*.dns_opt
services.*.extra_hosts
services.*.extra_hosts.*
services.*.isolation
services.*.restart
services.*.scale
services.*.healthcheck
services.*.healthcheck.test
services.*.healthcheck.interval
services.*.healthcheck.timeout
services.*.healthcheck.retries
services.*.healthcheck.start_period
services.*.healthcheck.start_interval
services.*.healthcheck.disable
services.*.logging
services.*.logging.driver
services.*.logging.options
services.*.logging.options.*
services.*.ports
services.*.ports.[].name
services.*.ports.[].target
services.*.ports.[].published
services.*.ports.[].protocol
services.*.ports.[].mode
services.*.volumes
services.*.volumes.[].type
services.*.volumes.[].source
services.*.volumes.[].target
services.*.volumes.[].read_only
services.*.volumes.[].consistency
services.*.volumes.[].bind
services.*.volumes.[].bind.propagation
services.*.volumes.[].bind.create_host_path
services.*.volumes.[].volume
services.*.volumes.[].volume.nocopy
services.*.volumes.[].volume.subpath
services.*.volumes.[].volume.labels
services.*.volumes.[].volume.labels.*
services.*.volumes.[].tmpfs
services.*.volumes.[].tmpfs.size
services.*.volumes.[].tmpfs.mode
services.*.networks
services.*.networks.*
services.*.networks.*.aliases
services.*.networks.*.driver_opts
services.*.networks.*.driver_opts.*
services.*.secrets
services.*.secrets.[].source
services.*.secrets.[].target
services.*.secrets.[].uid
services.*.secrets.[].gid
services.*.secrets.[].mode
services.*.configs
services.*.configs.[].source
services.*.configs.[].target
services.*.configs.[].uid
services.*.configs.[].gid
services.*.configs.[].mode
services.*.deploy
services.*.deploy.mode
services.*.deploy.replicas
services.*.deploy.labels
services.*.deploy.labels.*
services.*.deploy.endpoint_mode
services.*.deploy.resources
services.*.deploy.resources.limits
services.*.deploy.resources.limits.cpus
services.*.deploy.resources.limits.memory
services.*.deploy.resources.limits.pids
services.*.deploy.resources.reservations
services.*.deploy.resources.reservations.cpus
services.*.deploy.resources.reservations.memory
services.*.deploy.resources.reservations.generic_resources
services.*.deploy.resources.reservations.generic_resources.[].discrete_resource_spec
services.*.deploy.resources.reservations.generic_resources.[].discrete_resource_spec.kind
services.*.deploy.resources.reservations.generic_resources.[].discrete_resource_spec.value
services.*.deploy.restart_policy
services.*.deploy.restart_policy.condition
services.*.deploy.restart_policy.delay
services.*.deploy.restart_policy.max_attempts
services.*.deploy.restart_policy.window
services.*.deploy.placement
services.*.deploy.placement.constraints
services.*.deploy.placement.preferences
services.*.deploy.placement.preferences.[].spread
services.*.deploy.placement.max_replicas_per_node
services.*.deploy.update_config
services.*.deploy.update_config.parallelism
services.*.deploy.update_config.delay
services.*.deploy.update_config.failure_action
services.*.deploy.update_config.monitor
services.*.deploy.update_config.max_failure_ratio
services.*.deploy.update_config.order
services.*.deploy.rollback_config
services.*.deploy.rollback_config.parallelism
services.*.deploy.rollback_config.delay
services.*.deploy.rollback_config.failure_action
services.*.deploy.rollback_config.monitor
services.*.deploy.rollback_config.max_failure_ratio
services.*.deploy.rollback_config.order
networks
networks.*
networks.*.name
networks.*.driver
networks.*.driver_opts
networks.*.driver_opts.*
networks.*.external
networks.*.external.name
networks.*.internal
networks.*.attachable
networks.*.labels
networks.*.labels.*
networks.*.ipam
networks.*.ipam.driver
networks.*.ipam.options
networks.*.ipam.options.*
networks.*.ipam.config
networks.*.ipam.config.[].subnet
networks.*.ipam.config.[].gateway
networks.*.ipam.config.[].ip_range
networks.*.ipam.config.[].aux_addresses
networks.*.ipam.config.[].aux_addresses.*
volumes
volumes.*
volumes.*.name
volumes.*.driver
volumes.*.driver_opts
volumes.*.driver_opts.*
volumes.*.external
volumes.*.external.name
volumes.*.labels
volumes.*.labels.*
secrets
secrets.*
secrets.*.name
secrets.*.file
secrets.*.environment
secrets.*.external
secrets.*.external.name
secrets.*.labels
secrets.*.labels.*
secrets.*.driver
secrets.*.driver_opts
secrets.*.driver_opts.*
secrets.*.template_driver
configs
configs.*
configs.*.name
configs.*.file
configs.*.environment
configs.*.content
configs.*.external
configs.*.external.name
configs.*.labels
configs.*.labels.*
configs.*.template_driver
`

// deprecated are the service keys docker calls deprecated in a stack,
// with its explanations.
var deprecated = map[string]string{
	"container_name": "Setting the container name is not supported.",
	"expose":         "Exposing ports is unnecessary - services on the same network can access each other's containers on any port.",
}

func supportedPaths() []tree.Path {
	var paths []tree.Path
	for _, line := range strings.Fields(supported) {
		paths = append(paths, tree.Path(line))
	}
	return paths
}

// screen sorts what compose-go found outside the supported attributes
// into docker's two lists: the unsupported keys (a service key by its
// name, "build"; a deeper one by its path under the service,
// "deploy.resources.reservations.devices"; anything else by its whole
// path) and the deprecated ones.
func screen(found []loader.UnsupportedAttribute) (unsupported []string, dep map[string]string) {
	seen := map[string]bool{}
	dep = map[string]string{}
	for _, f := range found {
		var parts []string
		for _, p := range f.Path.Parts() {
			if p != tree.PathMatchList {
				parts = append(parts, p)
			}
		}
		key := strings.Join(parts, ".")
		if len(parts) > 2 && parts[0] == "services" {
			key = strings.Join(parts[2:], ".")
		}
		if len(parts) == 3 && parts[0] == "services" {
			if d, ok := deprecated[key]; ok {
				dep[key] = d
				continue
			}
		}
		if !seen[key] {
			seen[key] = true
			unsupported = append(unsupported, key)
		}
	}
	sort.Strings(unsupported)
	return unsupported, dep
}
