package cluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
)

// pool.enable_ha and pool.disable_ha (xapi_ha.ml enable/disable, xha_statefile.ml). The
// per-host steps (preconfigure, joining the liveset, the database backup) never fail in
// the simulation, so enable_ha either stops at one of xapi's checks or turns HA on.

// poolOp is a pool operation (ha_enable, cert_refresh …) for withOp.
func poolOp(pool, op string) objectOp {
	return objectOp{class: "pool", ref: pool, op: op,
		check:   func(tx *store.Tx, obj *store.Object) error { return poolOpError(tx, obj, op) },
		refresh: setPoolAllowedOps}
}

func (p *Sim) enableHA(c *xapi.Call) (any, error) {
	srs, config := c.Arg(0).([]any), c.Arg(1).(map[string]any)
	return nil, p.withOp(c, poolOp(firstPool(p.srv.Store).Ref, "ha_enable"), func() error {
		if err := c.Work(); err != nil {
			return err
		}
		// The checks up to the PIF warning commit on their own: the alert stays when a
		// later check fails.
		if _, err := p.srv.Store.Update(p.enableHAPrechecks); err != nil {
			return err
		}
		_, err := p.srv.Store.Update(func(tx *store.Tx) error { return p.enableHAIn(tx, srs, config) })
		return err
	})
}

// enableHAPrechecks is enable_ha up to the PIF warning: not during a rolling upgrade,
// not twice, licensed, no unplugged PIF that may not be unplugged.
func (p *Sim) enableHAPrechecks(tx *store.Tx) error {
	versions := map[string]bool{}
	for _, h := range tx.All("host") {
		versions[xapi.StringMap(h, "software_version")["platform_version"]] = true
	}
	if len(versions) > 1 {
		return apierror.New("NOT_SUPPORTED_DURING_UPGRADE")
	}
	if xapi.Bool(firstPool(tx), "ha_enabled") {
		return apierror.New("HA_IS_ENABLED")
	}
	if err := licenceRestriction(tx, "restrict_ha", "HA", false); err != nil {
		return err
	}
	var unplugged, lines []string
	for _, pif := range tx.All("PIF") {
		if xapi.Bool(pif, "disallow_unplug") && !xapi.Bool(pif, "currently_attached") {
			unplugged = append(unplugged, pif.Ref)
		}
	}
	if len(unplugged) > 0 {
		return apierror.New("REQUIRED_PIF_IS_UNPLUGGED", unplugged...)
	}
	for _, pif := range tx.All("PIF") {
		if xapi.Str(pif, "ip_configuration_mode") == "None" || tx.Get("Bond", xapi.Str(pif, "bond_slave_of")) != nil ||
			xapi.Bool(pif, "disallow_unplug") || xapi.Bool(pif, "management") {
			continue
		}
		lines = append(lines, fmt.Sprintf("%s: %s (uuid: %s)", xapi.Str(tx.Get("host", xapi.Str(pif, "host")), "name_label"),
			xapi.Str(pif, "device"), xapi.Str(pif, "uuid")))
	}
	if len(lines) > 0 {
		p.poolAlert(tx, alertPIFCanUnplug, strings.Join(append([]string{"A possible network anomaly was found. The following hosts possibly have storage PIFs that are not dedicated:"}, lines...), "\n"))
	}
	return nil
}

// enableHAIn is the rest of enable_ha: every host live, corosync ready when a cluster
// exists, a statefile and a metadata VDI on the first usable SR, then the pool and host
// fields.
func (p *Sim) enableHAIn(tx *store.Tx, srs []any, config map[string]any) error {
	for _, h := range tx.All("host") {
		if !hostLive(tx, h.Ref) {
			return apierror.New("HOST_OFFLINE", h.Ref)
		}
	}
	if err := corosyncReadyForHA(tx); err != nil {
		return err
	}
	setHAClusterStack(tx)
	var sr string
	if len(srs) > 0 {
		sr = srs[0].(string)
	} else {
		for _, o := range tx.All("SR") {
			if _, err := statefileSR(tx, o.Ref); err == nil {
				if _, err := haFits(tx, o, "redo_log", redoLogSize); err == nil {
					sr = o.Ref
					break
				}
			}
		}
		if sr == "" {
			return apierror.New("CANNOT_CREATE_STATE_FILE")
		}
	}
	statefile, err := statefileSR(tx, sr)
	if err != nil {
		return err
	}
	raw := map[string]any{"type": "raw"}
	if statefile == nil {
		if _, err := haFits(tx, tx.Get("SR", sr), "redo_log", redoLogSize); err != nil {
			return err
		}
		if statefile, err = newVDI(p.srv, tx, vdiSpec{sr: sr, name: "Statefile for HA", description: "Used for storage heartbeating",
			size: statefileSize, typ: "ha_statefile", sharable: true, smConfig: raw}); err != nil {
			return err
		}
	}
	if metadata, _ := haFits(tx, tx.Get("SR", sr), "redo_log", redoLogSize); metadata == nil {
		if _, err := newVDI(p.srv, tx, vdiSpec{sr: sr, name: "Metadata for HA", description: "Used for master failover",
			size: redoLogSize, typ: "redo_log", sharable: true, smConfig: raw}); err != nil {
			return err
		}
	}
	files := xapi.StringSet(statefile.Ref)
	setPoolFields(tx, map[string]any{"ha_statefiles": files, "ha_configuration": config, "ha_plan_exists_for": int64(0)})
	p.updatePoolStatus(tx)
	setHAHostViews(tx, files)
	setPoolFields(tx, map[string]any{"ha_enabled": true})
	p.ha.disarmed.Store(false) // every host arms HA again
	return nil
}

// corosyncReadyForHA is xapi's assert_pool_ready_for_corosync_ha, when a cluster exists:
// every host has an enabled, joined Cluster_host, and the coordinator's is quorate.
func corosyncReadyForHA(r store.Reader) error {
	cl := theCluster(r)
	if cl == nil {
		return nil
	}
	for _, h := range r.All("host") {
		ch := clusterHostOf(r, h.Ref)
		switch {
		case ch == nil:
			return apierror.New("NO_COMPATIBLE_CLUSTER_HOST", h.Ref)
		case !xapi.Bool(ch, "enabled"):
			return apierror.New("CLUSTERING_DISABLED", ch.Ref)
		case !xapi.Bool(ch, "joined"):
			return apierror.New("CLUSTER_HOST_NOT_JOINED", ch.Ref)
		}
	}
	if ch := clusterHostOf(r, xapi.Str(firstPool(r), "master")); ch != nil && !diagnose(r, cl.Ref).quorate() {
		return apierror.New("CLUSTER_HOST_NOT_JOINED", ch.Ref)
	}
	return nil
}

// statefileSR is xapi's check that an SR can hold the statefile: a plugged PBD on every
// host, a driver that can attach VDIs offline, and an existing statefile to reuse or room
// for one and the metadata VDI.
func statefileSR(r store.Reader, ref string) (*store.Object, error) {
	sr, err := xapi.GetObject(r, "SR", ref)
	if err != nil {
		return nil, err
	}
	hosts := map[string]bool{}
	for _, pbd := range xapi.Refs(sr, "PBDs") {
		if o := r.Get("PBD", pbd); o != nil {
			hosts[xapi.Str(o, "host")] = true
		}
	}
	if len(hosts) < r.Count("host") {
		return nil, apierror.New("SR_NO_PBDS", ref)
	}
	for _, pbd := range xapi.Refs(sr, "PBDs") {
		if o := r.Get("PBD", pbd); o != nil && !xapi.Bool(o, "currently_attached") {
			return nil, apierror.New("SR_NO_PBDS", ref)
		}
	}
	var sm *store.Object
	for _, o := range r.All("SM") {
		if xapi.Str(o, "type") == xapi.Str(sr, "type") {
			sm = o
			break
		}
	}
	if sm == nil {
		return nil, apierror.Internal("SR does not have corresponding SM record: %s %s", ref, xapi.Str(sr, "type"))
	}
	features := xapi.Map(sm, "features")
	if _, ok := features["VDI_GENERATE_CONFIG"]; !ok {
		if _, ok := features["VDI_ATTACH_OFFLINE"]; !ok {
			return nil, apierror.New("SR_OPERATION_NOT_SUPPORTED", ref)
		}
	}
	return haFits(r, sr, "ha_statefile", statefileSize)
}

// haFits is the SR's first VDI of the type and at least the size, or nil when a new one
// can be made (SR_SOURCE_SPACE_INSUFFICIENT when the SR lacks room for both HA VDIs).
func haFits(r store.Reader, sr *store.Object, typ string, size int64) (*store.Object, error) {
	for _, ref := range xapi.Refs(sr, "VDIs") {
		if vdi := r.Get("VDI", ref); vdi != nil && xapi.Str(vdi, "type") == typ && xapi.Int(vdi, "virtual_size") >= size {
			return vdi, nil
		}
	}
	if xapi.Int(sr, "physical_size")-xapi.Int(sr, "physical_utilisation") < haSRMinimumFree {
		return nil, apierror.New("SR_SOURCE_SPACE_INSUFFICIENT", sr.Ref)
	}
	return nil, nil
}

// disableHA is pool.disable_ha: HA off and no plan. As in xapi, the statefile and metadata
// VDIs stay (the next enable_ha reuses them), and so do the pool's and the hosts'
// ha_statefiles.
func (p *Sim) disableHA(c *xapi.Call) (any, error) {
	return nil, p.withOp(c, poolOp(firstPool(p.srv.Store).Ref, "ha_disable"), func() error {
		if err := c.Work(); err != nil {
			return err
		}
		_, err := p.srv.Store.Update(func(tx *store.Tx) error {
			if !xapi.Bool(firstPool(tx), "ha_enabled") {
				return apierror.New("HA_NOT_ENABLED")
			}
			setPoolFields(tx, map[string]any{"ha_plan_exists_for": int64(0), "ha_enabled": false})
			return nil
		})
		return err
	})
}

// failoverPlan is pool.ha_compute_vm_failover_plan: where the VMs would go if the hosts
// failed, packed by their dynamic minimum onto the other live hosts' free memory; a VM
// that does not fit gets its agility error, or HOST_NOT_ENOUGH_FREE_MEMORY.
func (p *Sim) failoverPlan(c *xapi.Call) (any, error) {
	failedHosts, failedVMs := stringsOf(c.Arg(0)), stringsOf(c.Arg(1))
	out := map[string]any{}
	var err error
	p.srv.Store.View(func(r store.Reader) {
		var things, bins []sized
		for _, ref := range failedVMs {
			vm, e := xapi.GetObject(r, "VM", ref)
			if e != nil {
				err = e
				return
			}
			code := "HOST_NOT_ENOUGH_FREE_MEMORY"
			if e := agilityError(r, vm); e != nil {
				code = apierror.From(e).Code
			}
			out[ref] = map[string]any{"error_code": code}
			things = append(things, sized{ref, xapi.Int(vm, "memory_dynamic_min") + overhead(vm)})
		}
		for _, h := range r.All("host") {
			if hostLive(r, h.Ref) && !slices.Contains(failedHosts, h.Ref) {
				bins = append(bins, sized{h.Ref, hostFree(r, h.Ref)})
			}
		}
		for _, pl := range biggestFitDecreasing(things, bins) {
			out[pl.vm] = map[string]any{"host": pl.host}
		}
	})
	return out, err
}
