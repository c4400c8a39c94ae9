"""The official XenAPI.py (Debian's python3-os-xenapi copy) against xapisim.

Usage: xenapi_scenarios.py URL USER PASSWORD
Runs every scenario over XML-RPC on /RPC2 (URL without a trailing slash: XenAPI.py posts
to /RPC2) and on / (URL with one). Prints one line per check ("ok", "FAIL", or "PENDING"
for checks listed in ../pending.txt) and ends with "N passed, M failed, P pending".
Exits 1 on a failure.
"""
import os
import sys
import time
import traceback
from xml.etree import ElementTree

XENAPI_DIR = "/usr/lib/python3/dist-packages/os_xenapi/client"
if not os.path.exists(os.path.join(XENAPI_DIR, "XenAPI.py")):
    print("FAIL XenAPI.py is not installed: apt-get install -y python3-os-xenapi")
    sys.exit(1)
sys.path.insert(0, XENAPI_DIR)
import XenAPI  # noqa: E402  (Debian's copy, imported by path; never vendored)

url, user, password = sys.argv[1:4]
HERE = os.path.dirname(os.path.abspath(__file__))
pending = {}
with open(os.path.join(HERE, "..", "pending.txt")) as f:
    for line in f:
        if line.startswith("python "):
            name, _, reason = line[len("python "):].partition("|")
            pending[name.strip()] = reason.strip()

counts = {"passed": 0, "failed": 0, "pending": 0}


def check(name, fn):
    error = None
    try:
        if fn() is False:
            error = "check returned false"
    except Exception as e:  # a failed check, whatever it raised
        error = "%s: %s | %s" % (type(e).__name__, e, traceback.format_exc().splitlines()[-3].strip())
    if name in pending:
        counts["pending"] += 1
        print("PENDING %s (waits for: %s; now %s)" % (name, pending[name], "fails: " + error if error else "passes"))
    elif error:
        counts["failed"] += 1
        print("FAIL %s: %s" % (name, error))
    else:
        counts["passed"] += 1
        print("ok   %s" % name)


def expect_failure(details, fn, *args):
    try:
        fn(*args)
    except XenAPI.Failure as f:
        if f.details != details:
            raise AssertionError("Failure.details %r, want %r" % (f.details, details))
        return
    raise AssertionError("no XenAPI.Failure, want %r" % (details,))


def equal(got, want, what):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def wait_task(x, task, timeout=30):
    deadline = time.time() + timeout
    while x.task.get_status(task) == "pending":
        if time.time() > deadline:
            raise AssertionError("task %s still pending" % task)
        time.sleep(0.05)
    return x.task.get_status(task)


def scenarios(base, tag):
    session = XenAPI.Session(base)
    x = session.xenapi
    state = {}

    def login():
        x.login_with_password(user, password, "1.0", "xapisim-e2e")
        return session.handle.startswith("OpaqueRef:")
    check(tag + " login with 4 arguments", login)

    def api_version():
        equal(session.API_version, "2.21", "API_version")
    check(tag + " API_version (pool.get_all -> get_master -> host.get_API_version_*)", api_version)

    def records():
        pools = x.pool.get_all_records()
        equal(len(pools), 1, "pools")
        master = list(pools.values())[0]["master"]
        host = x.host.get_record(master)
        equal(host["API_version_major"], "2", "ints arrive as strings")
        equal(host["enabled"], True, "bools arrive as bools")
        if "xapi" not in host["software_version"]:
            raise AssertionError("software_version lacks xapi")
        vms = x.VM.get_all_records()
        dom0 = [r for r, v in vms.items() if v["is_control_domain"]][0]
        equal(x.VM.get_record(dom0)["uuid"], vms[dom0]["uuid"], "get_record")
    check(tag + " records", records)

    def errors():
        state["dom0"] = x.VM.get_all_where('field "is_control_domain"="true"')[0]
        expect_failure(["HANDLE_INVALID", "VM", "OpaqueRef:bogus"], x.VM.get_record, "OpaqueRef:bogus")
        expect_failure(["UUID_INVALID", "VM", "nope"], x.VM.get_by_uuid, "nope")
        expect_failure(["MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.start", "3", "1"], x.VM.start, state["dom0"])
        expect_failure(["MESSAGE_METHOD_UNKNOWN", "VM.nope"], x.VM.nope)
        expect_failure(["MAP_DUPLICATE_KEY", "VM", "other_config", state["dom0"], "k"],
                       lambda: [x.VM.add_to_other_config(state["dom0"], "k", "v"),
                                x.VM.add_to_other_config(state["dom0"], "k", "v")])
        x.VM.remove_from_other_config(state["dom0"], "k")
    check(tag + " errors arrive as Failure.details exactly", errors)

    def async_task():
        task = x.Async.VM_group.create({"name_label": "e2e", "name_description": "", "placement": "normal"})
        equal(wait_task(x, task), "success", "status")
        result = x.task.get_result(task)
        if not (result.startswith("<value>OpaqueRef:") and result.endswith("</value>")):
            raise AssertionError("result %r is not an XML-RPC value" % result)
        equal(x.task.get_record(task)["name_label"], "Async.VM_group.create", "name_label")
        x.task.destroy(task)
        group = result[len("<value>"):-len("</value>")]
        x.VM_group.destroy(group)
    check(tag + " Async call polled through task.get_status/get_result", async_task)

    def async_failure():
        task = x.Async.VM.destroy("OpaqueRef:bogus")
        equal(wait_task(x, task), "failure", "status")
        equal(x.task.get_error_info(task), ["HANDLE_INVALID", "VM", "OpaqueRef:bogus"], "error_info")
        x.task.destroy(task)
    check(tag + " a failing Async call fails its task", async_failure)

    def vm_lifecycle():
        halted = [r for r, v in x.VM.get_all_records().items()
                  if v["power_state"] == "Halted" and not v["is_a_template"] and not v["is_control_domain"]]
        if not halted:
            raise AssertionError("no halted VM")
        vm = halted[0]
        task = x.Async.VM.start(vm, False, False)
        equal(wait_task(x, task), "success", "start task")
        equal(x.VM.get_power_state(vm), "Running", "power_state")
        expect_failure(["VM_BAD_POWER_STATE", vm, "halted", "running"], x.VM.start, vm, False, False)
        x.VM.hard_shutdown(vm)
        equal(x.VM.get_power_state(vm), "Halted", "power_state")
    check(tag + " VM lifecycle through Async.VM.start", vm_lifecycle)

    def template_to_vm():
        # The provider flow of semantics.md §2.9, with allowed_operations at each step.
        def ops(ref):
            return set(x.VM.get_allowed_operations(ref))
        tmpl = x.VM.get_by_name_label("Debian Bookworm 12")[0]
        if "provision" not in ops(tmpl) or "start" in ops(tmpl):
            raise AssertionError("template ops %r" % ops(tmpl))
        expect_failure(["VM_IS_TEMPLATE", tmpl, "start"], x.VM.start, tmpl, False, False)
        vm = x.VM.clone(tmpl, "e2e-provisioned")
        sr = x.pool.get_default_SR(x.pool.get_all()[0])
        other = x.VM.get_other_config(vm)
        other["disks"] = other["disks"].replace('sr=""', 'sr="%s"' % x.SR.get_uuid(sr))
        x.VM.set_other_config(vm, other)
        x.VM.provision(vm)
        equal(x.VM.get_is_a_template(vm), False, "is_a_template after provision")
        if not {"start", "destroy", "snapshot"} <= ops(vm):
            raise AssertionError("halted ops %r" % ops(vm))
        used_before = int(x.SR.get_physical_utilisation(sr))
        task = x.Async.VM.start(vm, False, False)
        equal(wait_task(x, task), "success", "Async.VM.start")
        x.task.destroy(task)
        equal(x.VM.get_power_state(vm), "Running", "power_state")
        if "start" in ops(vm) or "hard_shutdown" not in ops(vm):
            raise AssertionError("running ops %r" % ops(vm))
        expect_failure(["VM_BAD_POWER_STATE", vm, "halted", "running"], x.VM.start, vm, False, False)
        x.VM.hard_shutdown(vm)
        equal(x.VM.get_power_state(vm), "Halted", "after hard_shutdown")
        snap = x.VM.snapshot(vm, "e2e-snapshot")
        equal(ops(snap), {"revert", "clone", "copy", "export", "destroy", "metadata_export"}, "snapshot ops")
        x.VM.revert(snap)
        equal(x.VM.get_power_state(vm), "Halted", "after revert")
        disks = [x.VBD.get_VDI(v) for v in x.VM.get_VBDs(vm) if x.VBD.get_type(v) == "Disk"]
        x.VM.destroy(vm)
        for vdi in disks:
            x.VDI.get_uuid(vdi)  # the VDIs are kept
        if int(x.SR.get_physical_utilisation(sr)) < used_before:
            raise AssertionError("the SR usage went down although the VDIs were kept")
    check(tag + " template -> clone -> provision -> start -> snapshot -> revert -> destroy", template_to_vm)

    def storage():
        sr = x.pool.get_default_SR(x.pool.get_all()[0])
        def usage():
            r = x.SR.get_record(sr)
            return int(r["physical_utilisation"]), int(r["virtual_allocation"])
        phys0, virt0 = usage()
        size = 10 * 1024 ** 3
        vdi = x.VDI.create({"name_label": "py-data", "name_description": "", "SR": sr, "virtual_size": str(size),
                            "type": "user", "sharable": False, "read_only": False, "other_config": {}})
        phys1, virt1 = usage()
        equal(virt1, virt0 + size, "virtual_allocation after VDI.create")
        halted = x.VM.get_all_where('field "power_state"="Halted" and field "is_a_template"="false" and field "is_control_domain"="false"')[0]
        vbd = x.VBD.create({"VM": halted, "VDI": vdi, "userdevice": "autodetect", "bootable": False, "mode": "RW",
                            "type": "Disk", "empty": False, "other_config": {}, "qos_algorithm_type": "", "qos_algorithm_params": {}})
        x.VM.start(halted, False, False)
        equal(x.VBD.get_currently_attached(vbd), True, "attached once the VM runs")
        expect_failure(["VDI_IN_USE", vdi, "destroy"], x.VDI.destroy, vdi)
        x.VM.hard_shutdown(halted)
        x.VBD.destroy(vbd)
        x.VDI.destroy(vdi)
        equal(usage(), (phys0, virt0), "SR usage back after the VDI is gone")

        cd = [v for v in x.VM.get_VBDs(halted) if x.VBD.get_type(v) == "CD"][0]
        iso = x.SR.get_VDIs(x.SR.get_by_name_label("ISO library")[0])[0]
        x.VBD.insert(cd, iso)
        equal(x.VBD.get_empty(cd), False, "inserted")
        x.VBD.eject(cd)
        expect_failure(["VBD_IS_EMPTY", cd], x.VBD.eject, cd)

        net = x.network.create({"name_label": "py-net", "name_description": "", "MTU": "1500", "other_config": {}, "tags": []})
        running = x.VM.get_all_where('field "power_state"="Running" and field "is_control_domain"="false"')[0]
        device = str(1 + max(int(x.VIF.get_device(v)) for v in x.VM.get_VIFs(running)))
        vif = x.VIF.create({"device": device, "network": net, "VM": running, "MAC": "", "MTU": "1500", "other_config": {},
                            "qos_algorithm_type": "", "qos_algorithm_params": {}})
        if len(x.VIF.get_MAC(vif)) != 17:
            raise AssertionError("generated MAC %r" % x.VIF.get_MAC(vif))
        x.VIF.plug(vif)
        equal(x.VIF.get_currently_attached(vif), True, "VIF plugged")

        mgmt = x.host.get_management_interface(x.pool.get_master(x.pool.get_all()[0]))
        vlan_net = x.network.create({"name_label": "py-vlan", "name_description": "", "MTU": "1500", "other_config": {}, "tags": []})
        pifs = x.pool.create_VLAN_from_PIF(mgmt, vlan_net, str(77 + len(x.VLAN.get_all())))
        equal(len({x.PIF.get_host(p) for p in pifs}), len(x.host.get_all()), "a VLAN PIF on every host")

        local = x.SR.get_by_name_label("Local storage")[0]
        r = x.SR.get_record(local)
        free = int(r["physical_size"]) - int(r["physical_utilisation"])
        expect_failure(["SR_FULL", str(free + 1), str(free)], x.VDI.create,
                       {"name_label": "big", "name_description": "", "SR": local, "virtual_size": str(free + 1), "type": "user",
                        "sharable": False, "read_only": False, "other_config": {}})
    check(tag + " storage and networks", storage)

    def probe_nfs():
        pool = x.pool.get_all()[0]
        master, sr = x.pool.get_master(pool), x.pool.get_default_SR(pool)
        dc = x.PBD.get_device_config(x.SR.get_PBDs(sr)[0])
        try:
            x.SR.probe(master, {"server": dc["server"]}, "nfs", {})
            raise AssertionError("probing the server alone succeeded")
        except XenAPI.Failure as f:
            equal(f.details[:3], ["SR_BACKEND_FAILURE_101", "", "The request is missing the serverpath parameter"], "error")
            exports = ElementTree.fromstring(f.details[3].strip())
        equal(exports.tag, "nfs-exports", "root")
        paths = [e.findtext("Path") for e in exports.findall("Export")]
        if dc["serverpath"] not in paths:
            raise AssertionError("%r not among the exports %r" % (dc["serverpath"], paths))
        found = ElementTree.fromstring(x.SR.probe(master, {"server": dc["server"], "serverpath": dc["serverpath"]}, "nfs", {}))
        equal([e.findtext("UUID") for e in found.findall("SR")], [x.SR.get_uuid(sr)], "the SRs at the path")
    check(tag + " SR.probe: an NFS server's exports, then the SR at a path", probe_nfs)

    def nbd_and_cbt():
        pool = x.pool.get_all()[0]
        sr = x.pool.get_default_SR(pool)
        vdi = x.VDI.create({"name_label": "py-cbt", "name_description": "", "SR": sr, "virtual_size": str(1024 ** 3),
                            "type": "user", "sharable": False, "read_only": False, "other_config": {}})
        x.VDI.enable_cbt(vdi)
        base = x.VDI.snapshot(vdi, {})
        expect_failure(["SR_BACKEND_FAILURE_460", "", "Failed to calculate changed blocks for given VDIs. [opterr=Source and target VDI are same]", ""],
                       x.VDI.list_changed_blocks, base, base)
        expect_failure(["OPERATION_NOT_ALLOWED", "VDI is not a snapshot: " + vdi], x.VDI.data_destroy, vdi)
        x.VDI.data_destroy(base)
        expect_failure(["VDI_INCOMPATIBLE_TYPE", base, "CBT metadata"], x.VDI.get_nbd_info, base)

        net = x.PIF.get_network(x.host.get_management_interface(x.pool.get_master(pool)))
        x.network.add_purpose(net, "nbd")
        try:
            info = x.VDI.get_nbd_info(vdi)
        finally:
            x.network.remove_purpose(net, "nbd")
        equal(len(info), len(x.host.get_all()), "one NBD server per host")
        for entry in info:
            equal(entry["port"], "10809", "port, an untagged int")
            host = x.host.get_all_where('field "address"="%s"' % entry["address"])[0]
            equal(entry["cert"], x.host.get_server_certificate(host), "the host's certificate")
            equal(entry["subject"], x.host.get_hostname(host), "subject")
        for ref in (base, vdi):
            x.VDI.destroy(ref)
    check(tag + " changed block tracking and NBD", nbd_and_cbt)

    def storage_migration():
        pool = x.pool.get_all()[0]
        shared = x.pool.get_default_SR(pool)
        vm = x.VM.get_all_where('field "power_state"="Running" and field "is_control_domain"="false"')[0]
        disks = [x.VBD.get_VDI(v) for v in x.VM.get_VBDs(vm) if x.VBD.get_type(v) == "Disk"]
        source = x.VM.get_resident_on(vm)
        target = [h for h in x.host.get_all() if h != source][0]
        local = [s for s in x.SR.get_all_where('field "type"="lvm"')
                 if x.PBD.get_host(x.SR.get_PBDs(s)[0]) == target][0]
        def usage(sr):
            r = x.SR.get_record(sr)
            return int(r["physical_utilisation"]), int(r["virtual_allocation"])
        before = usage(shared), usage(local)
        network = x.PIF.get_network(x.host.get_management_interface(target))
        dest = x.host.migrate_receive(target, network, {})
        equal(sorted(dest), ["SM", "host", "master", "session_id", "xenops"], "destination keys")
        equal(dest["host"], target, "destination host")
        vdi_map = {d: local for d in disks}
        expect_failure(["VDI_NOT_IN_MAP", disks[0]], x.VM.assert_can_migrate, vm, dest, True, {}, {}, {}, {})
        x.VM.assert_can_migrate(vm, dest, True, vdi_map, {}, {}, {})
        task = x.Async.VM.migrate_send(vm, dest, True, vdi_map, {}, {}, {})
        equal(wait_task(x, task), "success", "migrate_send task")
        equal(x.VM.get_resident_on(vm), target, "resident_on")
        moved = [x.VBD.get_VDI(v) for v in x.VM.get_VBDs(vm) if x.VBD.get_type(v) == "Disk"]
        equal([x.VDI.get_SR(d) for d in moved], [local] * len(disks), "the disks' SR")
        size = sum(int(x.VDI.get_virtual_size(d)) for d in moved)
        equal(usage(local)[1], before[1][1] + size, "virtual_allocation of the target SR")
        equal(usage(shared)[1], before[0][1] - size, "virtual_allocation of the source SR")
        for d in moved:  # and back, one disk at a time
            x.VDI.pool_migrate(d, shared, {})
        # Back on the shared SR: allocation as before; a thick SR's copy wrote every block.
        equal((usage(shared)[1], usage(local)), (before[0][1], before[1]), "both SRs' allocation as it was")
    check(tag + " storage migration: migrate_receive, migrate_send across SRs, VDI.pool_migrate", storage_migration)

    def cluster():
        pool = x.pool.get_all()[0]
        master = x.pool.get_master(pool)
        pif = [p for p in x.host.get_PIFs(master) if x.PIF.get_device(p) == "eth1"][0]
        network = x.PIF.get_network(pif)
        x.PIF.set_disallow_unplug(pif, False)
        expect_failure(["INVALID_CLUSTER_STACK", "xhad"], x.Cluster.pool_create, network, "xhad", 20.0, 1.0)
        expect_failure(["INVALID_VALUE", "token_timeout", "0.5"], x.Cluster.pool_create, network, "corosync", 0.5, 1.0)
        expect_failure(["INVALID_VALUE", "token_timeout_coefficient", "0.6"], x.Cluster.pool_create, network, "corosync", 20.0, 0.6)
        expect_failure(["PIF_ALLOWS_UNPLUG", pif], x.Cluster.pool_create, network, "corosync", 20.0, 1.0)
        x.PIF.set_disallow_unplug(pif, True)
        cluster = x.Cluster.pool_create(network, "corosync", 20.0, 1.0)
        hosts = x.host.get_all()
        rec = x.Cluster.get_record(cluster)
        equal(len(rec["cluster_hosts"]), len(hosts), "a Cluster_host per host")
        equal((rec["is_quorate"], rec["quorum"], rec["live_hosts"]), (True, str(len(hosts) // 2 + 1), str(len(hosts))), "quorum fields")
        equal(rec["token_timeout"], 20.0, "token_timeout as a double")
        equal(x.pool.get_ha_cluster_stack(pool), "corosync", "pool.ha_cluster_stack")
        equal(x.Cluster.get_network(cluster), network, "Cluster.get_network")
        expect_failure(["CLUSTER_ALREADY_EXISTS"], x.Cluster.create, pif, "corosync", True, 20.0, 1.0)
        expect_failure(["CLUSTER_DOES_NOT_HAVE_ONE_NODE", str(len(hosts))], x.Cluster.destroy, cluster)
        member_pif = {x.Cluster_host.get_host(ch): x.Cluster_host.get_PIF(ch) for ch in rec["cluster_hosts"]}
        other = [h for h in hosts if h != master][0]
        ch = [c for c in rec["cluster_hosts"] if x.Cluster_host.get_host(c) == other][0]
        expect_failure(["CLUSTERING_ENABLED", ch], x.PIF.set_disallow_unplug, member_pif[other], False)

        task = x.Async.Cluster_host.force_destroy(ch)
        wait_task(x, task)
        equal(len(x.Cluster.get_cluster_hosts(cluster)), len(hosts) - 1, "after force_destroy")
        x.Cluster.pool_resync(cluster)
        equal(len(x.Cluster.get_cluster_hosts(cluster)), len(hosts), "pool_resync brings the host back")

        ch = [c for c in x.Cluster.get_cluster_hosts(cluster) if x.Cluster_host.get_host(c) == other][0]
        x.Cluster_host.disable(ch)
        expect_failure(["CLUSTERING_DISABLED", ch], x.Cluster.pool_destroy, cluster)
        equal(x.Cluster.get_pool_auto_join(cluster), False, "pool_destroy turned auto-join off")
        x.Cluster_host.enable(ch)
        x.Cluster.pool_destroy(cluster)
        equal(x.Cluster.get_all(), [], "no cluster after pool_destroy")
        equal(x.pool.get_ha_cluster_stack(pool), "xhad", "pool.ha_cluster_stack back to xhad")
        x.PIF.set_disallow_unplug(pif, False)
    def ha_failover():
        pool = x.pool.get_all()[0]
        master = x.pool.get_master(pool)
        other = [h for h in x.host.get_all() if h != master][0]
        # The guests running there, started again afterwards for the other scenarios.
        guests = [v for v in x.host.get_resident_VMs(other) if not x.VM.get_is_control_domain(v)]
        tmpl = x.VM.get_by_name_label("Other install media")[0]
        vm = x.VM.clone(tmpl, "py-ha")
        try:
            x.VM.set_is_a_template(vm, False)
            gib = str(1024 ** 3)
            x.VM.set_memory_limits(vm, gib, gib, gib, gib)
            expect_failure(["INVALID_VALUE", "ha_restart_priority", "always"], x.VM.set_ha_restart_priority, vm, "always")
            x.VM.set_ha_restart_priority(vm, "restart")
            x.VM.start_on(vm, other, False, False)
            expect_failure(["HA_NOT_ENABLED"], x.pool.disable_ha)
            x.pool.enable_ha([], {})
            equal(x.pool.get_ha_enabled(pool), True, "pool.ha_enabled")
            equal(len(x.pool.get_ha_statefiles(pool)), 1, "one statefile")
            expect_failure(["HA_IS_ENABLED"], x.pool.enable_ha, [], {})
            x.host.disable(other)
            x.host.shutdown(other)
            equal(x.VM.get_power_state(vm), "Running", "the protected VM restarted")
            if x.VM.get_resident_on(vm) == other:
                raise AssertionError("the protected VM is still on the host that went down")
        finally:  # leave the pool as the other scenarios expect it
            if x.VM.get_power_state(vm) != "Halted":
                x.VM.hard_shutdown(vm)
            x.VM.destroy(vm)
            if x.pool.get_ha_enabled(pool):
                x.pool.disable_ha()
            if not x.host_metrics.get_live(x.host.get_metrics(other)):
                x.host.set_power_on_mode(other, "wake-on-lan", {})
                x.host.power_on(other)
            x.host.enable(other)
            for guest in guests:
                if x.VM.get_power_state(guest) == "Halted":
                    x.VM.start_on(guest, other, False, False)
    check(tag + " HA: enable_ha, a host goes down, its protected VM restarts elsewhere", ha_failover)

    def cluster_cleaned():
        try:
            cluster()
        finally:  # a failed check must not leave a cluster for the next scenarios
            for left in x.Cluster.get_all():
                x.Cluster.pool_force_destroy(left)
    check(tag + " cluster: pool_create, pool_resync, pool_destroy and errors", cluster_cleaned)

    def logout():
        handle = session.handle
        x.session.logout()
        # A fresh proxy with the old session sees SESSION_INVALID.
        raw = XenAPI.xmlrpcclient.ServerProxy(base)
        reply = raw.pool.get_all(handle)
        equal(reply["ErrorDescription"], ["SESSION_INVALID", handle], "after logout")
    check(tag + " logout", logout)


scenarios(url, "[/RPC2]")
scenarios(url + "/", "[/]")
print("%d passed, %d failed, %d pending" % (counts["passed"], counts["failed"], counts["pending"]))
sys.exit(1 if counts["failed"] else 0)
