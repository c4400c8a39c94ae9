package cluster_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/cluster"
	"github.com/xapisim/xapisim/xapi/datamodel"
	"github.com/xapisim/xapisim/xapi/xapitest"
)

// TestSimulatedMessagesAnswerBadArguments calls every simulated explicit message with
// arguments a careless client might send: refs to nothing, refs to whatever object of the
// class comes last with empty values elsewhere, and values of the wrong type. Each answer
// must be a result or a XenAPI error; a panic in a handler surfaces as INTERNAL_ERROR.
func TestSimulatedMessagesAnswerBadArguments(t *testing.T) {
	// xapi itself answers these with an OCaml exception turned into INTERNAL_ERROR.
	ocamlExceptions := map[string]string{"pool.eject": "Xapi_pool.Cannot_eject_master",
		// rrdd has no data source named "".
		"host.query_data_source":  `IDL Error: [S(Rrdd_internal_error);S(Rrd.Invalid_data_source(""))]`,
		"host.record_data_source": `IDL Error: [S(Rrdd_internal_error);S(Rrd_interface.Rrdd_error([S(Datasource_missing);S()]))]`,
		"SR.query_data_source":    `IDL Error: [S(Rrdd_internal_error);S(Rrd.Invalid_data_source(""))]`,
		"SR.record_data_source":   `IDL Error: [S(Rrdd_internal_error);S(Rrd_interface.Rrdd_error([S(Datasource_missing);S()]))]`,
		// add_to_NVRAM writes the map through xapi's database, which refuses the empty key.
		"VM.add_to_NVRAM": "Db_exn.Empty_key_in_map",
		// so does create_new_blob, which adds the blob to the owner's map under the name "".
		"pool.create_new_blob": "Db_exn.Empty_key_in_map", "host.create_new_blob": "Db_exn.Empty_key_in_map",
		"VM.create_new_blob": "Db_exn.Empty_key_in_map", "network.create_new_blob": "Db_exn.Empty_key_in_map",
		"SR.create_new_blob": "Db_exn.Empty_key_in_map",
		// A bad schedule key makes add_to_schedule put back the value a remove_from_schedule
		// saved; without one, List.assoc raises Not_found.
		"VMSS.add_to_schedule": "Not_found",
		// xapi's semaphores need at least one thread: Invalid_argument for 0.
		"pool.set_local_auth_max_threads": "Invalid argument: The semaphore 'Internal auth' must have at least 1 resource available, requested: 0",
		"pool.set_ext_auth_max_threads":   "Invalid argument: The semaphore 'External auth' must have at least 1 resource available, requested: 0",
		// A destination map without its keys: List.assoc's Not_found.
		"VM.assert_can_migrate": "Not_found", "VM.migrate_send": "Not_found",
		// certificate file names are checked from their first character: "" has none.
		"pool.uninstall_ca_certificate": `Invalid_argument("index out of bounds")`, "pool.certificate_uninstall": `Invalid_argument("index out of bounds")`,
		"pool.crl_install": `Invalid_argument("index out of bounds")`, "pool.crl_uninstall": `Invalid_argument("index out of bounds")`,
		// Yojson refuses an empty extension call.
		"host.call_extension": `Yojson.Json_error("Blank input data")`,
		// no SM driver is named "": Sm.info_of_driver's exception, which DR_task.create lets through.
		"DR_task.create": `Sm.Unknown_driver("")`,
		// stunnel cannot resolve the empty host name.
		"pool.send_test_post": `Stunnel.Stunnel_error("No host resolved")`}
	for _, mode := range []string{"bogus refs", "real refs", "wrong types"} {
		t.Run(mode, func(t *testing.T) {
			p := newPool(t, cluster.Spec{Hosts: 3})
			for _, m := range p.srv.Schema.Messages() {
				// session.* would log the caller out for the messages after it.
				if m.Implicit || !m.Session || m.Class.Name == "session" || !p.srv.Simulated(m.WireName) {
					continue
				}
				args := []any{p.session}
				for _, prm := range m.Params {
					args = append(args, badArg(p, prm.Type, mode))
				}
				// The typed reply: JSON cannot carry every result (data sources' infinite bounds).
				reply := xapitest.Call(p.srv, m.WireName, args...)
				if reply.Err == nil || reply.Err.Code != "INTERNAL_ERROR" {
					continue
				}
				err := append([]string{reply.Err.Code}, reply.Err.Params...)
				if mode == "wrong types" {
					// xapi's unmarshalling failures, as protocol.md §3 gives them.
					assert.True(t, strings.HasPrefix(err[1], "Failure(") || strings.HasPrefix(err[1], "Invalid argument"), "%s: %v", m.WireName, err)
				} else {
					assert.Equal(t, ocamlExceptions[m.WireName], err[1], "%s: %v", m.WireName, err)
				}
			}
		})
	}
}

func badArg(p *pool, t *datamodel.Type, mode string) any {
	if mode == "wrong types" {
		if t.Kind == datamodel.String || t.Kind == datamodel.Ref || t.Kind == datamodel.Enum {
			return []any{}
		}
		return "x"
	}
	switch t.Kind {
	case datamodel.Int:
		return int64(0)
	case datamodel.Float:
		return 0.0
	case datamodel.Bool:
		return false
	case datamodel.Enum:
		return t.Enum.Values[0]
	case datamodel.Ref:
		if mode == "real refs" && t.Name == "session" {
			return p.session // sessions have no get_all
		}
		if mode == "real refs" {
			if refs := p.ok(t.Name + ".get_all").([]any); len(refs) > 0 {
				return refs[len(refs)-1]
			}
		}
		return "OpaqueRef:bogus"
	case datamodel.Set:
		return []any{}
	case datamodel.Map:
		return map[string]any{}
	case datamodel.DateTime:
		return "20240101T00:00:00Z"
	}
	return ""
}
