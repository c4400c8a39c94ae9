package cluster

import (
	"slices"
	"strings"

	"github.com/xapisim/xapisim/store"
	"github.com/xapisim/xapisim/xapi"
	"github.com/xapisim/xapisim/xapi/apierror"
	"github.com/xapisim/xapisim/xapi/datamodel"
)

// xapi's VM operation checks (semantics.md §2.2–2.4, xapi_vm_lifecycle.ml): which power
// states an operation needs, which operations may run together, and the order in which
// the checks report the first problem. allowed_operations is the set of operations that
// pass, with strict checks.

// allowedPowerStates lists, in xapi's order, the power states an operation needs.
func allowedPowerStates(vm *store.Object, op string, pool *store.Object) []string {
	all := []string{"Halted", "Paused", "Suspended", "Running"}
	switch op {
	case "import":
		return nil
	case "changing_VCPUs", "changing_static_range", "changing_memory_limits":
		if xapi.Bool(vm, "is_control_domain") {
			return []string{"Halted", "Running"}
		}
		return []string{"Halted"}
	case "changing_shadow_memory", "changing_NVRAM", "make_into_template", "provision", "start", "start_on", "create_vtpm":
		return []string{"Halted"}
	case "unpause":
		return []string{"Paused"}
	case "csvm", "resume", "resume_on":
		return []string{"Suspended"}
	case "awaiting_memory_live", "call_plugin", "clean_reboot", "clean_shutdown", "changing_memory_live",
		"changing_shadow_memory_live", "changing_VCPUs_live", "data_source_op", "pause", "pool_migrate",
		"send_sysrq", "send_trigger", "snapshot_with_quiesce", "sysprep", "suspend":
		return []string{"Running"}
	case "changing_dynamic_range":
		return []string{"Halted", "Running"}
	case "clone", "copy":
		if xapi.Bool(vm, "is_a_snapshot") || (pool != nil && xapi.StringMap(pool, "other_config")["allow_clone_suspended_vm"] == "true") {
			return []string{"Halted", "Suspended"}
		}
		return []string{"Halted"}
	case "create_template", "destroy", "export":
		return []string{"Halted", "Suspended"}
	case "hard_reboot":
		return []string{"Paused", "Running"}
	case "checkpoint", "get_boot_record", "shutdown", "hard_shutdown":
		return []string{"Paused", "Suspended", "Running"}
	case "migrate_send":
		return []string{"Halted", "Suspended", "Running"}
	}
	return all // assert_operation_valid, metadata_export, power_state_reset, revert, reverting, snapshot, …
}

// allowedConcurrently says whether op may start while current operations run.
func allowedConcurrently(op string, current []string) bool {
	groups := [][]string{{"clone", "copy", "export"}, {"snapshot", "checkpoint"}, {"get_boot_record"}}
	for _, g := range groups {
		if slices.Contains(g, op) && !slices.ContainsFunc(current, func(c string) bool { return !slices.Contains(g, c) }) {
			return true
		}
	}
	switch op {
	case "hard_shutdown":
		return !slices.Contains(current, "hard_shutdown")
	case "hard_reboot":
		return !slices.Contains(current, "hard_shutdown") && !slices.Contains(current, "hard_reboot")
	}
	pairs := map[string]string{"snapshot": "snapshot_with_quiesce", "metadata_export": "migrate_send", "clean_shutdown": "migrate_send", "clean_reboot": "migrate_send"}
	if want, ok := pairs[op]; ok {
		return len(current) == 1 && current[0] == want
	}
	return false
}

// templateOps are what a template (not a snapshot) allows.
var templateOps = []string{"changing_dynamic_range", "changing_static_range", "changing_memory_limits", "changing_shadow_memory",
	"changing_VCPUs", "changing_NVRAM", "clone", "copy", "export", "metadata_export", "provision"}

// snapshotOps are what a snapshot allows.
var snapshotOps = []string{"revert", "clone", "copy", "export", "destroy", "hard_shutdown", "metadata_export"}

// controlDomainOps are what a control domain allows.
var controlDomainOps = []string{"data_source_op", "changing_memory_live", "awaiting_memory_live", "metadata_export",
	"changing_dynamic_range", "changing_memory_limits", "changing_static_range", "start", "start_on", "changing_VCPUs", "destroy"}

// isDefaultTemplate reports whether a template is built in.
func isDefaultTemplate(vm *store.Object) bool {
	v := strings.ToLower(xapi.StringMap(vm, "other_config")["default_template"])
	return xapi.Bool(vm, "is_default_template") || v == "true" || v == "1"
}

// hasPVDrivers reports whether a VM's guest metrics show PV drivers (a major and a minor
// version), which imply every guest feature.
func hasPVDrivers(r store.Reader, vm *store.Object) bool {
	gm := r.Get("VM_guest_metrics", xapi.Str(vm, "guest_metrics"))
	if gm == nil {
		return false
	}
	v := xapi.StringMap(gm, "PV_drivers_version")
	return v["major"] != "" && v["minor"] != ""
}

func guestFeature(r store.Reader, vm *store.Object, feature string) string {
	gm := r.Get("VM_guest_metrics", xapi.Str(vm, "guest_metrics"))
	if gm == nil {
		return ""
	}
	return xapi.StringMap(gm, "other")[feature]
}

// bootedPV reports whether the running domain is PV (its metrics say so).
func bootedPV(r store.Reader, vm *store.Object) bool {
	m := r.Get("VM_metrics", xapi.Str(vm, "metrics"))
	if m == nil {
		return false
	}
	switch xapi.Str(m, "current_domain_type") {
	case "pv", "pv_in_pvh", "pvh":
		return true
	}
	return false
}

// featureError is xapi's check_op_for_feature: HVM guests without PV drivers lack the
// features clean shutdown, reboot, suspend and migration need.
func featureError(r store.Reader, vm *store.Object, op string, strict bool) error {
	ps := xapi.Str(vm, "power_state")
	live := ps == "Running" || ps == "Paused"
	implicit := !live || bootedPV(r, vm) || hasPVDrivers(r, vm)
	lacks := func(f string) bool { return guestFeature(r, vm, f) != "1" }
	switch op {
	case "suspend", "checkpoint", "pool_migrate", "migrate_send":
		if !live {
			break
		}
		if reason := guestFeature(r, vm, "data-cant-suspend-reason"); reason != "" {
			return apierror.New("VM_NON_SUSPENDABLE", vm.Ref, reason)
		}
		if !implicit && strict && lacks("feature-suspend") {
			return apierror.New("VM_LACKS_FEATURE", vm.Ref)
		}
		return nil
	}
	if implicit {
		return nil
	}
	switch {
	case op == "clean_shutdown" && strict && lacks("feature-shutdown") && lacks("feature-poweroff"),
		op == "clean_reboot" && strict && lacks("feature-shutdown") && lacks("feature-reboot"),
		op == "changing_VCPUs_live" && lacks("feature-vcpu-hotplug"):
		return apierror.New("VM_LACKS_FEATURE", vm.Ref)
	}
	return nil
}

// operationError is xapi's check_operation_error: the first reason op is not allowed on
// vm now, or nil.
func operationError(r store.Reader, vm *store.Object, op string, strict bool) error {
	ref := vm.Ref
	if reason, blocked := xapi.StringMap(vm, "blocked_operations")[op]; blocked {
		return apierror.New("OPERATION_BLOCKED", ref, reason)
	}
	ps := xapi.Str(vm, "power_state")
	if states := allowedPowerStates(vm, op, firstPool(r)); !slices.Contains(states, ps) {
		lower := make([]string, len(states))
		for i, s := range states {
			lower[i] = strings.ToLower(s)
		}
		return apierror.New("VM_BAD_POWER_STATE", ref, strings.Join(lower, ", "), strings.ToLower(ps))
	}
	if current := xapi.Map(vm, "current_operations"); len(current) > 0 {
		tasks, ops := sortedOps(current)
		if !allowedConcurrently(op, ops) {
			if len(ops) == 1 {
				return apierror.New("OTHER_OPERATION_IN_PROGRESS", "VM", ref, ops[0], tasks[0])
			}
			return apierror.New("OTHER_OPERATION_IN_PROGRESS", "VM", ref, "{"+strings.Join(ops, ",")+"}", "{"+strings.Join(tasks, ",")+"}")
		}
	}
	isTemplate, isSnapshot := xapi.Bool(vm, "is_a_template"), xapi.Bool(vm, "is_a_snapshot")
	if isTemplate && !isSnapshot && !slices.Contains(templateOps, op) &&
		!((op == "destroy" || op == "migrate_send") && !isDefaultTemplate(vm)) {
		return apierror.New("VM_IS_TEMPLATE", ref, op)
	}
	if isSnapshot && !slices.Contains(snapshotOps, op) {
		return apierror.New("VM_IS_SNAPSHOT", ref, op)
	}
	if op == "provision" && !isTemplate {
		return apierror.New("PROVISION_ONLY_ALLOWED_ON_TEMPLATE")
	}
	if op == "revert" && !isSnapshot {
		return apierror.New("REVERT_ONLY_ALLOWED_ON_SNAPSHOT")
	}
	platform := xapi.StringMap(vm, "platform")
	nested := isTrue(platform["nested-virt"])
	switch op {
	case "suspend", "checkpoint", "pool_migrate", "migrate_send":
		if strict && (isTrue(platform["nomigrate"]) || nested) {
			return apierror.New("VM_IS_IMMOBILE", ref)
		}
	case "changing_dynamic_range":
		if nested && strict {
			return apierror.New("VM_IS_USING_NESTED_VIRT", ref)
		}
	}
	if xapi.Bool(vm, "is_control_domain") {
		if xapi.Int(vm, "domid") == 0 && (op == "changing_VCPUs" || op == "destroy") {
			return apierror.New(apierror.OperationNotAllowed, "This operation is not allowed on dom0")
		}
		if !slices.Contains(controlDomainOps, op) {
			return apierror.New(apierror.OperationNotAllowed, "This operation is not allowed on a control domain")
		}
	}
	if err := featureError(r, vm, op, strict); err != nil {
		return err
	}
	if op == "snapshot_with_quiesce" {
		return apierror.New("VM_SNAPSHOT_WITH_QUIESCE_NOT_SUPPORTED", ref)
	}
	if op == "make_into_template" && !isNull(xapi.Str(vm, "appliance")) {
		return apierror.New("VM_IS_PART_OF_AN_APPLIANCE", ref, xapi.Str(vm, "appliance"))
	}
	if op == "create_vtpm" {
		if n := len(xapi.Refs(vm, "VTPMs")); n > 0 {
			return apierror.New("VTPM_MAX_AMOUNT_REACHED", itoa(n))
		}
	}
	return nil
}

// ignoredOps are left out of allowed_operations (xapi_vm_lifecycle.ml ignored_ops).
var ignoredOps = map[string]bool{
	"create_template": true, "power_state_reset": true, "csvm": true, "get_boot_record": true, "send_sysrq": true,
	"send_trigger": true, "query_services": true, "shutdown": true, "call_plugin": true, "changing_memory_live": true,
	"awaiting_memory_live": true, "changing_memory_limits": true, "changing_shadow_memory_live": true,
	"changing_VCPUs": true, "assert_operation_valid": true, "data_source_op": true, "update_allowed_operations": true,
	"import": true, "reverting": true,
}

// setAllowedOps recomputes a VM's allowed_operations (strict checks) in the transaction.
func setAllowedOps(tx *store.Tx, vm *store.Object) {
	vm = tx.Get("VM", vm.Ref)
	if vm == nil {
		return
	}
	var allowed []any
	for _, op := range datamodel.Load().Enums["vm_operations"].Values {
		if ignoredOps[op] || op == "query_services" {
			continue
		}
		if operationError(tx, vm, op, true) == nil {
			allowed = append(allowed, op)
		}
	}
	if allowed == nil {
		allowed = []any{}
	}
	defer refreshDeviceOps(tx, vm.Ref)
	putAllowedOps(tx, vm, allowed)
}

func isTrue(v string) bool { v = strings.ToLower(v); return v == "true" || v == "1" }

func firstPool(r store.Reader) *store.Object {
	for _, p := range r.All("pool") {
		return p
	}
	return nil
}
