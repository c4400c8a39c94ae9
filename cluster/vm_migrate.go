package cluster

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// Storage migration (xapi_vm_migrate.ml, xapi_host.ml migrate_receive): a destination map
// names a host and a session; VM.migrate_send moves the VM there and mirrors each disk
// mapped to another SR into a new VDI on it, destroying the original. Only a destination
// in this pool can be served: a host ref unknown here is another pool, which the
// simulation cannot reach.

func (p *Sim) registerMigration() {
	s := p.srv
	s.Handle("host.migrate_receive", p.migrateReceive)
	s.Handle("VM.assert_can_migrate", func(c *xapi.Call) (any, error) {
		vm, err := c.Get("VM", c.StringArg(0))
		if err != nil {
			return nil, err
		}
		_, err = migrationCheck(s.Store, vm, migrationArgs(c))
		return nil, err
	})
	s.Handle("VM.migrate_send", p.migrateSend)
	s.Handle("VDI.pool_migrate", p.vdiPoolMigrate)
}

// migrateReceive answers the destination map for a migration to host over network: a
// new session on the host for the sender, the URLs of the host's SM and xenops services
// on the network's address, and the master's address.
func (p *Sim) migrateReceive(c *xapi.Call) (any, error) {
	host, err := c.Get("host", c.StringArg(0))
	if err != nil {
		return nil, err
	}
	network, err := c.Get("network", c.StringArg(1))
	if err != nil {
		return nil, err
	}
	r := p.srv.Store
	ip, err := receiveAddress(r, host.Ref, network)
	if err != nil {
		return nil, err
	}
	session, err := p.receiveSession(c, host.Ref)
	if err != nil {
		return nil, err
	}
	service := func(name string) string {
		return (&url.URL{Scheme: "http", Host: ip, Path: "/services/" + name, RawQuery: "session_id=" + session}).String()
	}
	return map[string]any{
		"SM": service("SM"), "host": host.Ref, "xenops": service("xenops"), "session_id": session,
		"master": "http://" + managementAddress(r, p.srv.MasterHost()),
	}, nil
}

// receiveAddress is the IP of the host's PIF on the network, or xapi's reason there is
// none.
func receiveAddress(r store.Reader, host string, network *store.Object) (string, error) {
	var pif *store.Object
	for _, ref := range xapi.Refs(network, "PIFs") {
		if o := r.Get("PIF", ref); o != nil && xapi.Str(o, "host") == host {
			pif = o
			break
		}
	}
	if pif == nil {
		return "", apierror.New("HOST_CANNOT_ATTACH_NETWORK", host, network.Ref)
	}
	ip, mode := xapi.Str(pif, "IP"), xapi.Str(pif, "ip_configuration_mode")
	if xapi.Str(pif, "primary_address_type") == "IPv6" {
		ip, mode = "", xapi.Str(pif, "ipv6_configuration_mode")
		for _, a := range xapi.Refs(pif, "IPv6") {
			if addr, _, _ := strings.Cut(a, "/"); addr != "" && !strings.HasPrefix(strings.ToLower(addr), "fe80:") {
				ip = "[" + addr + "]"
				break
			}
		}
	}
	if ip == "" {
		if mode == "None" {
			return "", apierror.New("PIF_HAS_NO_NETWORK_CONFIGURATION", pif.Ref)
		}
		return "", apierror.New("INTERFACE_HAS_NO_IP", pif.Ref)
	}
	return ip, nil
}

// receiveSession logs the caller in again on the host, without a password, as the same
// subject with the same permissions.
func (p *Sim) receiveSession(c *xapi.Call, host string) (string, error) {
	now := p.srv.Clock.Now()
	o := p.srv.NewObject("session")
	for k, v := range map[string]any{"this_host": host, "last_active": now, "validation_time": now} {
		xapi.Set(o, k, v)
	}
	if c.Session != nil {
		for _, f := range []string{"pool", "is_local_superuser", "subject", "auth_user_sid", "auth_user_name", "rbac_permissions"} {
			xapi.Set(o, f, xapi.Get(c.Session, f))
		}
	}
	_, err := p.srv.Store.Update(func(tx *store.Tx) error { tx.Put(o); return nil })
	return o.Ref, err
}

// migration is a call's arguments: the destination map, the VDI and VIF maps, options.
type migration struct {
	dest           map[string]string
	vdiMap, vifMap map[string]string
	options        map[string]string
}

func migrationArgs(c *xapi.Call) migration {
	strs := func(i int) map[string]string {
		out := map[string]string{}
		m, _ := c.Arg(i).(map[string]any)
		for k, v := range m {
			out[k], _ = v.(string)
		}
		return out
	}
	return migration{dest: strs(1), vdiMap: strs(3), vifMap: strs(4), options: strs(5)}
}

// destination is what xapi reads from a destination map.
type destination struct {
	host, session string
}

// parseDest reads the map's keys in xapi's order; a missing key is OCaml's Not_found.
func parseDest(dest map[string]string) (destination, error) {
	var d destination
	get := func(k string) (string, error) {
		v, ok := dest[k]
		if !ok {
			return "", apierror.Internal("Not_found")
		}
		return v, nil
	}
	master, err := get("master")
	if err != nil {
		return d, err
	}
	xenops, err := get("xenops")
	if err != nil {
		return d, err
	}
	if d.session, err = get("session_id"); err != nil {
		return d, err
	}
	for _, u := range []string{xenops, master} {
		if parsed, err := url.Parse(u); err != nil || (parsed.Scheme != "http" && parsed.Scheme != "https") || parsed.Hostname() == "" {
			return d, apierror.Internal("Cannot extract foreign IP address from: %s", u)
		}
	}
	if d.host, err = get("host"); err != nil {
		return d, err
	}
	_, err = get("SM")
	return d, err
}

// migratedVDIs are the VDIs of a VM's disks that a migration mirrors or copies: those of
// VBDs that are neither empty nor CD drives, in VBD order.
func migratedVDIs(r store.Reader, vm *store.Object) []*store.Object {
	var out []*store.Object
	for _, ref := range xapi.Refs(vm, "VBDs") {
		vbd := r.Get("VBD", ref)
		if vbd == nil || xapi.Bool(vbd, "empty") || xapi.Str(vbd, "type") == "CD" {
			continue
		}
		if vdi := r.Get("VDI", xapi.Str(vbd, "VDI")); vdi != nil {
			out = append(out, vdi)
		}
	}
	return out
}

// migrationCheck is xapi's assert_can_migrate for vm and returns the destination host: the
// map must name a host of this pool (another pool cannot be contacted) and a valid
// session, every disk must be mapped, each moving disk's SRs must support mirroring, the
// host must be able to run the VM (its SRs aside), VIFs cannot be remapped within the
// pool, and a moving disk may not be tracked or encrypted.
func migrationCheck(r store.Reader, vm *store.Object, m migration) (*store.Object, error) {
	d, err := parseDest(m.dest)
	if err != nil {
		return nil, err
	}
	for _, vdi := range migratedVDIs(r, vm) {
		if _, ok := m.vdiMap[vdi.Ref]; !ok {
			return nil, apierror.New("VDI_NOT_IN_MAP", vdi.Ref)
		}
	}
	host := r.Get("host", d.host)
	if host == nil {
		// Another pool: xapi's connection to its master fails.
		return nil, apierror.Internal("Connection failed: no route to host.")
	}
	if r.Get("session", d.session) == nil {
		return nil, apierror.New(apierror.SessionInvalid, d.session)
	}
	vdis := sortedKeys(m.vdiMap)
	for _, ref := range vdis {
		vdi, err := xapi.GetObject(r, "VDI", ref)
		if err != nil {
			return nil, err
		}
		if xapi.Str(vdi, "SR") == m.vdiMap[ref] {
			continue
		}
		if err := mirrorSupport(r, xapi.Str(vdi, "SR"), "VDI_SNAPSHOT", "VDI_MIRROR"); err != nil {
			return nil, err
		}
		if _, err := xapi.GetObject(r, "SR", m.vdiMap[ref]); err != nil {
			return nil, err
		}
		if err := mirrorSupport(r, m.vdiMap[ref], "VDI_SNAPSHOT", "VDI_MIRROR_IN"); err != nil {
			return nil, err
		}
	}
	if err := bootCheckWith(r, vm, host, false); err != nil {
		return nil, err
	}
	if len(m.vifMap) > 0 {
		return nil, apierror.New(apierror.OperationNotAllowed, "VIF mapping is not allowed for intra-pool migration -all VIFs must be on the same network")
	}
	return host, movingVDIsCheck(r, m.vdiMap)
}

// mirrorSupport checks that an SR's driver has the features a mirror needs
// (SR_DOES_NOT_SUPPORT_MIGRATION [sr, the missing ones]); VDI_MIRROR stands in for
// VDI_MIRROR_IN.
func mirrorSupport(r store.Reader, sr string, features ...string) error {
	var have map[string]any
	if o := r.Get("SR", sr); o != nil {
		if sm := smFor(r, xapi.Str(o, "type")); sm != nil {
			have = xapi.Map(sm, "features")
		}
	}
	var missing []string
	for _, f := range features {
		_, ok := have[f]
		if _, mirror := have["VDI_MIRROR"]; !ok && !(f == "VDI_MIRROR_IN" && mirror) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return apierror.New("SR_DOES_NOT_SUPPORT_MIGRATION", sr, strings.Join(missing, ";"))
	}
	return nil
}

// movingVDIsCheck refuses to move a VDI with changed block tracking or encryption.
func movingVDIsCheck(r store.Reader, vdiMap map[string]string) error {
	for _, ref := range sortedKeys(vdiMap) {
		vdi := r.Get("VDI", ref)
		if vdi == nil || xapi.Str(vdi, "SR") == vdiMap[ref] {
			continue
		}
		if xapi.Bool(vdi, "cbt_enabled") {
			return apierror.New("VDI_CBT_ENABLED", ref)
		}
		if _, ok := xapi.Map(vdi, "sm_config")["key_hash"]; ok {
			return apierror.New("VDI_IS_ENCRYPTED", ref)
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// sendPlan is what migrate_send moves: every VDI of the VM, its snapshots and suspend
// images with its SR, and the CD drives to empty first.
type sendPlan struct {
	vdiMap map[string]string
	vdis   []*store.Object // in xapi's copy order: smallest first, then oldest snapshot
	eject  []string
}

// planSend is migrate_send's checks after assert_can_migrate and its resolution of the VDIs
// the map leaves out: snapshot disks follow the disk they are a snapshot of, suspend
// images the destination's suspend SR, the rest the pool's default SR.
func planSend(r store.Reader, vm, host *store.Object, m migration) (sendPlan, error) {
	plan := sendPlan{vdiMap: map[string]string{}}
	if copyMode, _ := parseBool(m.options["copy"]); copyMode {
		return plan, apierror.New(apierror.OperationNotAllowed, "Copy mode is disallowed on intra pool storage migration, try efficient alternatives, for example, VM.copy/clone.")
	}
	own := migratedVDIs(r, vm)
	for _, vdi := range own {
		if _, ok := m.vdiMap[vdi.Ref]; !ok {
			return plan, apierror.New("VDI_NOT_IN_MAP", vdi.Ref)
		}
	}
	for _, vdi := range own {
		if xapi.Str(vdi, "on_boot") == "reset" {
			return plan, apierror.New("VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION", vdi.Ref)
		}
	}
	family := append([]*store.Object{vm}, snapshotsOf(r, vm)...)
	var snapshotVDIs, suspendVDIs []*store.Object
	for _, s := range family[1:] {
		snapshotVDIs = append(snapshotVDIs, migratedVDIs(r, s)...)
	}
	source := xapi.Str(vm, "resident_on")
	if isNull(source) {
		source = xapi.Str(firstPool(r), "master")
	}
	for _, v := range family {
		if xapi.Str(v, "power_state") != "Suspended" {
			continue
		}
		vdi := r.Get("VDI", xapi.Str(v, "suspend_VDI"))
		if vdi == nil || hasPBD(r, xapi.Str(vdi, "SR"), host.Ref) {
			continue
		}
		if !hasPBD(r, xapi.Str(vdi, "SR"), source) {
			return plan, apierror.New("SUSPEND_IMAGE_NOT_ACCESSIBLE", vdi.Ref)
		}
		suspendVDIs = append(suspendVDIs, vdi)
	}
	for k, v := range m.vdiMap {
		plan.vdiMap[k] = v
	}
	defaultSR, suspendSR := poolField(r, "default_SR"), poolField(r, "suspend_image_SR")
	if isNull(suspendSR) {
		suspendSR = xapi.Str(host, "suspend_image_sr")
	}
	for i, vdi := range append(suspendVDIs, snapshotVDIs...) {
		sr, mapped := m.vdiMap[vdi.Ref]
		if !mapped {
			parent, ok := m.vdiMap[xapi.Str(vdi, "snapshot_of")]
			suspend := i < len(suspendVDIs)
			switch {
			case ok:
				sr = parent
			case suspend && !isNull(suspendSR):
				sr = suspendSR
			case !isNull(defaultSR):
				sr = defaultSR
			default:
				return plan, apierror.New("VDI_NOT_IN_MAP", vdi.Ref)
			}
		}
		plan.vdiMap[vdi.Ref] = sr
	}
	if err := movingVDIsCheck(r, plan.vdiMap); err != nil {
		return plan, err
	}
	plan.vdis = append(append(own, suspendVDIs...), snapshotVDIs...)
	sort.SliceStable(plan.vdis, func(i, j int) bool {
		a, b := plan.vdis[i], plan.vdis[j]
		if sa, sb := xapi.Int(a, "virtual_size"), xapi.Int(b, "virtual_size"); sa != sb {
			return sa < sb
		}
		return xapi.Time(a, "snapshot_time").Before(xapi.Time(b, "snapshot_time"))
	})
	if xapi.Str(vm, "power_state") != "Suspended" {
		for _, ref := range xapi.Refs(vm, "VBDs") {
			vbd := r.Get("VBD", ref)
			if vbd == nil || xapi.Str(vbd, "type") != "CD" {
				continue
			}
			if cd := r.Get("VDI", xapi.Str(vbd, "VDI")); cd != nil && xapi.Str(cd, "SR") != plan.vdiMap[cd.Ref] {
				plan.eject = append(plan.eject, ref)
			}
		}
	}
	return plan, nil
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func snapshotsOf(r store.Reader, vm *store.Object) []*store.Object {
	return objectsOf(r, "VM", xapi.Refs(vm, "snapshots"))
}

// objectsOf are the objects of a class that refs name and that exist, in order.
func objectsOf(r store.Reader, class string, refs []string) []*store.Object {
	var out []*store.Object
	for _, ref := range refs {
		if o := r.Get(class, ref); o != nil {
			out = append(out, o)
		}
	}
	return out
}

// hasPBD reports whether the host has a PBD for the SR, plugged or not.
func hasPBD(r store.Reader, sr, host string) bool {
	for _, ref := range xapi.Refs(r.Get("SR", sr), "PBDs") {
		if pbd := r.Get("PBD", ref); pbd != nil && xapi.Str(pbd, "host") == host {
			return true
		}
	}
	return false
}

// executeSend carries out a plan in one transaction: CDs ejected, each VDI on another SR
// mirrored into a new VDI there (SR_FULL when it does not fit; SR_NOT_ATTACHED [SR uuid]
// when the destination host cannot reach the SR), snapshot links kept, the VBDs and
// suspend images of the VM and its snapshots repointed, the originals destroyed, and the
// domain moved.
func executeSend(srv *xapi.Server, tx *store.Tx, vm, host *store.Object, plan sendPlan) error {
	for _, ref := range plan.eject {
		vbd := tx.Get("VBD", ref).Clone()
		old := xapi.Str(vbd, "VDI")
		xapi.Set(vbd, "VDI", datamodel.NullRef)
		xapi.Set(vbd, "empty", true)
		tx.Put(vbd)
		setVDIAllowedOps(tx, old)
	}
	moved := map[string]string{}
	for _, src := range plan.vdis {
		sr := plan.vdiMap[src.Ref]
		if sr == xapi.Str(src, "SR") || moved[src.Ref] != "" {
			continue
		}
		if !srPluggedOn(tx, sr, host.Ref) {
			return apierror.New("SR_NOT_ATTACHED", xapi.Str(tx.Get("SR", sr), "uuid"))
		}
		dst, err := copyVDI(srv, tx, src, sr, false)
		if err != nil {
			return err
		}
		moved[src.Ref] = dst.Ref
	}
	for old, ref := range moved {
		src := tx.Get("VDI", old)
		if !xapi.Bool(src, "is_a_snapshot") {
			continue
		}
		parent := xapi.Str(src, "snapshot_of")
		if n, ok := moved[parent]; ok {
			parent = n
		}
		dst := tx.Get("VDI", ref).Clone()
		xapi.Set(dst, "is_a_snapshot", true)
		xapi.Set(dst, "snapshot_of", parent)
		xapi.Set(dst, "snapshot_time", xapi.Get(src, "snapshot_time"))
		tx.Put(dst)
	}
	for _, v := range append([]*store.Object{vm}, snapshotsOf(tx, vm)...) {
		for _, ref := range xapi.Refs(v, "VBDs") {
			if vbd := tx.Get("VBD", ref); vbd != nil && moved[xapi.Str(vbd, "VDI")] != "" {
				vbd = vbd.Clone()
				xapi.Set(vbd, "VDI", moved[xapi.Str(vbd, "VDI")])
				tx.Put(vbd)
			}
		}
		v = tx.Get("VM", v.Ref)
		n := moved[xapi.Str(v, "suspend_VDI")]
		lost := !isNull(xapi.Str(v, "suspend_SR")) && !hasPBD(tx, xapi.Str(v, "suspend_SR"), host.Ref)
		if n != "" || lost {
			v = v.Clone()
			if n != "" {
				xapi.Set(v, "suspend_VDI", n)
			}
			if lost {
				xapi.Set(v, "suspend_SR", datamodel.NullRef)
			}
			tx.Put(v)
		}
	}
	for old, ref := range moved {
		destroyVDI(tx, old)
		setVDIAllowedOps(tx, ref)
	}
	vm = tx.Get("VM", vm.Ref)
	if ps := xapi.Str(vm, "power_state"); (ps == "Running" || ps == "Paused") && xapi.Str(vm, "resident_on") != host.Ref {
		moveDomain(tx, vm, host.Ref)
	}
	return nil
}

// migrateSend is VM.migrate_send within the pool, answering the VM; a live VM's move
// is reported with xapi's VM_MIGRATED message.
func (p *Sim) migrateSend(c *xapi.Call) (any, error) {
	m := migrationArgs(c)
	var from string
	err := p.runSend(c, c.StringArg(0), func(tx *store.Tx, vm *store.Object) (*store.Object, migration, error) {
		from = xapi.Str(vm, "resident_on")
		host, err := migrationCheck(tx, vm, m)
		return host, m, err
	}, func(tx *store.Tx, vm, host *store.Object) {
		if ps := xapi.Str(vm, "power_state"); ps == "Running" || ps == "Paused" {
			p.migratedAlert(tx, vm, tx.Get("host", from), host)
		}
	})
	if err != nil {
		return nil, err
	}
	return c.StringArg(0), nil
}

// runSend runs a migrate_send operation on a VM: after the operation's own checks, setup
// checks the migration and names the destination host, then the plan is checked; after
// the simulated copy the plan is carried out and done runs, in one transaction.
func (p *Sim) runSend(c *xapi.Call, ref string, setup func(tx *store.Tx, vm *store.Object) (*store.Object, migration, error),
	done func(tx *store.Tx, vm, host *store.Object)) error {
	var host *store.Object
	var m migration
	return p.runVMOp(c, ref, vmOp{op: "migrate_send", strict: true,
		prepare: func(tx *store.Tx, vm *store.Object) error {
			var err error
			if host, m, err = setup(tx, vm); err != nil {
				return err
			}
			_, err = planSend(tx, vm, host, m)
			return err
		},
		apply: func(tx *store.Tx, vm *store.Object) error {
			plan, err := planSend(tx, vm, host, m)
			if err != nil {
				return err
			}
			if err := executeSend(p.srv, tx, vm, host, plan); err != nil {
				return err
			}
			if done != nil {
				done(tx, vm, host)
			}
			return nil
		},
	})
}

// migratedAlert is the VM_MIGRATED message of a live migration within the pool.
func (p *Sim) migratedAlert(tx *store.Tx, vm, from, to *store.Object) {
	p.vmAlert(tx, vm, "VM_MIGRATED", fmt.Sprintf("VM '%s' (uuid: %s) migrated from host '%s' (uuid: %s) to host '%s' (uuid: %s)",
		xapi.Str(vm, "name_label"), xapi.Str(vm, "uuid"), xapi.Str(from, "name_label"), xapi.Str(from, "uuid"),
		xapi.Str(to, "name_label"), xapi.Str(to, "uuid")))
}

// vdiPoolMigrate is VDI.pool_migrate: live storage migration of one disk of a VM, run as
// VM.migrate_send of that VM to the host it runs on (or one that sees the SRs), with the
// disk mapped to the new SR and the others where they are. It answers the new VDI.
func (p *Sim) vdiPoolMigrate(c *xapi.Call) (any, error) {
	vdiRef, srRef := c.StringArg(0), c.StringArg(1)
	r := p.srv.Store
	var vmRef, vbdRef string
	for _, vbd := range r.All("VBD") {
		if xapi.Str(vbd, "VDI") == vdiRef {
			vmRef, vbdRef = xapi.Str(vbd, "VM"), vbd.Ref
			break
		}
	}
	if vmRef == "" {
		return nil, apierror.New("VDI_NEEDS_VM_FOR_MIGRATE", vdiRef)
	}
	if _, err := c.Get("VDI", vdiRef); err != nil {
		return nil, err
	}
	if _, err := c.Get("SR", srRef); err != nil {
		return nil, err
	}
	if _, err := c.Get("VM", vmRef); err != nil {
		return nil, err
	}
	err := p.runSend(c, vmRef, func(tx *store.Tx, vm *store.Object) (*store.Object, migration, error) {
		host, m, err := vdiMigration(tx, vm, tx.Get("VDI", vdiRef), srRef, c.SessionRef)
		if err == nil {
			_, err = migrationCheck(tx, vm, m)
		}
		return host, m, err
	}, nil)
	if err != nil {
		return nil, err
	}
	return xapi.Str(p.srv.Store.Get("VBD", vbdRef), "VDI"), nil
}

// vdiMigration is VDI.pool_migrate's checks and the migration it makes: the VDI's own
// checks (not CBT metadata, not tracked, a VBD of the VM), the host (the VM's, or the
// first that sees every SR), the management network's address there, and the map.
func vdiMigration(r store.Reader, vm, vdi *store.Object, sr, session string) (*store.Object, migration, error) {
	var m migration
	if err := vdiOpError(r, vdi, "mirror"); err != nil {
		return nil, m, err
	}
	if !vdiUsedBy(r, vdi, vm.Ref) {
		return nil, m, apierror.New("VBD_MISSING")
	}
	m.vdiMap = map[string]string{vdi.Ref: sr}
	for _, ref := range xapi.Refs(vm, "VBDs") {
		vbd := r.Get("VBD", ref)
		if other := r.Get("VDI", xapi.Str(vbd, "VDI")); vbd != nil && !xapi.Bool(vbd, "empty") && other != nil && other.Ref != vdi.Ref {
			m.vdiMap[other.Ref] = xapi.Str(other, "SR")
		}
	}
	seesAll := func(h *store.Object) bool {
		for _, want := range m.vdiMap {
			if !srPluggedOn(r, want, h.Ref) {
				return false
			}
		}
		return true
	}
	host := r.Get("host", xapi.Str(vm, "resident_on"))
	if host == nil {
		host = r.Get("host", xapi.Str(firstPool(r), "master"))
	}
	if !seesAll(host) {
		host = nil
		for _, h := range candidates(r, vm) {
			if hostLive(r, h.Ref) && seesAll(h) {
				host = h
				break
			}
		}
		if host == nil {
			return nil, m, apierror.New("NO_HOSTS_AVAILABLE")
		}
	}
	var network *store.Object
	bridge := ""
	for _, ref := range xapi.Refs(host, "PIFs") {
		if pif := r.Get("PIF", ref); pif != nil && xapi.Bool(pif, "management") {
			bridge = xapi.Str(r.Get("network", xapi.Str(pif, "network")), "bridge")
		}
	}
	for _, n := range r.All("network") {
		if xapi.Str(n, "bridge") == bridge {
			network = n
			break
		}
	}
	if network == nil {
		return nil, m, apierror.New("HOST_HAS_NO_MANAGEMENT_IP")
	}
	ip, err := receiveAddress(r, host.Ref, network)
	if err != nil {
		return nil, m, err
	}
	// xapi makes a session with migrate_receive for the inner migrate_send; the caller's
	// own stands for it here, since nothing outside this call could use it.
	m.dest = map[string]string{"host": host.Ref, "master": "http://" + ip, "xenops": "http://" + ip,
		"SM": "http://" + ip, "session_id": session}
	m.vifMap, m.options = map[string]string{}, map[string]string{}
	return host, m, nil
}

func vdiUsedBy(r store.Reader, vdi *store.Object, vm string) bool {
	for _, ref := range xapi.Refs(vdi, "VBDs") {
		if vbd := r.Get("VBD", ref); vbd != nil && xapi.Str(vbd, "VM") == vm {
			return true
		}
	}
	return false
}
