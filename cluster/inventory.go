package cluster

import (
	"fmt"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
)

// The emulated product: an XCP-ng 8.3 pool, whose xapi reports API version 2.21.
var softwareVersion = map[string]any{
	"product_brand":              "XCP-ng",
	"product_version":            "8.3.0",
	"product_version_text":       "8.3",
	"product_version_text_short": "8.3",
	"platform_name":              "XCP",
	"platform_version":           "3.4.0",
	"build_number":               "cloud",
	"xapi":                       "24.19",
	"xapi_build":                 "24.19.2",
	"xen":                        "4.17.5-3",
	"linux":                      "4.19.0+1",
	"hostname":                   "localhost",
	"network_backend":            "openvswitch",
	"db_schema":                  "5.786",
	"xencenter_min":              "2.21",
	"xencenter_max":              "2.21",
}

const (
	gib            = int64(1) << 30
	hostMemory     = 256 * gib
	dom0Memory     = 4 * gib
	hostCPUs       = 16
	apiVersionText = "XenSource"
)

// BuildInventory creates the default pool in an empty store, in one transaction.
func (p *Sim) BuildInventory() error {
	srv := p.srv
	now := srv.Clock.Now()
	_, err := srv.Store.Update(func(tx *store.Tx) error {
		var hosts []string
		for i := 1; i <= p.spec.Hosts; i++ {
			name := fmt.Sprintf("host%d", i)
			h := srv.NewObject("host")
			m := srv.NewObject("host_metrics")
			xapi.Set(m, "memory_total", hostMemory)
			xapi.Set(m, "memory_free", hostMemory-dom0Memory)
			xapi.Set(m, "live", true)
			xapi.Set(m, "last_updated", now)
			tx.Put(m)

			dom0 := srv.NewObject("VM")
			dm := srv.NewObject("VM_metrics")
			xapi.Set(dm, "memory_actual", dom0Memory)
			xapi.Set(dm, "VCPUs_number", int64(hostCPUs))
			xapi.Set(dm, "start_time", now)
			xapi.Set(dm, "last_updated", now)
			xapi.Set(dm, "current_domain_type", "pv")
			tx.Put(dm)
			xapi.Set(dom0, "name_label", "Control domain on host: "+name)
			xapi.Set(dom0, "name_description", "The domain which manages physical devices and manages other domains")
			xapi.Set(dom0, "is_control_domain", true)
			xapi.Set(dom0, "power_state", "Running")
			xapi.Set(dom0, "resident_on", h.Ref)
			xapi.Set(dom0, "affinity", h.Ref)
			xapi.Set(dom0, "domid", int64(0))
			xapi.Set(dom0, "domain_type", "pv")
			xapi.Set(dom0, "user_version", int64(1))
			xapi.Set(dom0, "VCPUs_max", int64(hostCPUs))
			xapi.Set(dom0, "VCPUs_at_startup", int64(hostCPUs))
			for _, f := range []string{"memory_static_min", "memory_static_max", "memory_dynamic_min", "memory_dynamic_max", "memory_target"} {
				xapi.Set(dom0, f, dom0Memory)
			}
			for _, f := range []string{"actions_after_shutdown", "actions_after_reboot", "actions_after_crash"} {
				xapi.Set(dom0, f, "destroy")
			}
			xapi.Set(dom0, "metrics", dm.Ref)
			tx.Put(dom0)

			xapi.Set(h, "name_label", name)
			xapi.Set(h, "name_description", "Default install")
			xapi.Set(h, "hostname", name)
			xapi.Set(h, "address", fmt.Sprintf("10.0.0.%d", 10+i))
			xapi.Set(h, "API_version_major", srv.Schema.APIMajor)
			xapi.Set(h, "API_version_minor", srv.Schema.APIMinor)
			xapi.Set(h, "API_version_vendor", apiVersionText)
			xapi.Set(h, "enabled", true)
			xapi.Set(h, "software_version", xapi.CopyMap(softwareVersion))
			xapi.Set(h, "sched_policy", "credit")
			xapi.Set(h, "supported_bootloaders", xapi.StringSet("pygrub", "eliloader"))
			xapi.Set(h, "metrics", m.Ref)
			xapi.Set(h, "control_domain", dom0.Ref)
			tx.Put(h)
			hosts = append(hosts, h.Ref)
		}
		pool := srv.NewObject("pool")
		xapi.Set(pool, "master", hosts[0])
		xapi.Set(pool, "ha_cluster_stack", "xhad")
		xapi.Set(pool, "other_config", map[string]any{"memory-ratio-hvm": "0.25", "memory-ratio-pv": "0.25"})
		tx.Put(pool)
		return nil
	})
	return err
}
