package wire

import (
	"testing"
	"time"

	"github.com/xapisim/xapisim/xapi/datamodel"
)

func vmRecord() (*datamodel.Type, []any) {
	vm := datamodel.Load().Class("VM")
	fields := make([]any, len(vm.Fields))
	for i, f := range vm.Fields {
		fields[i] = f.Initial()
	}
	set := func(name string, v any) { fields[vm.Field(name).Index] = v }
	set("uuid", "0e5b9c2a-4ad6-4a07-9f4b-8f6f4e2b3a11")
	set("name_label", "web server 01")
	set("power_state", "Running")
	set("memory_static_max", int64(4<<30))
	set("other_config", map[string]any{"mac_seed": "1b7a7b5e-4a5b-4a8a-9f8e-2f9e8c6d7b1a", "base_template_name": "Debian Bookworm 12"})
	set("VCPUs_params", map[string]any{})
	set("platform", map[string]any{"acpi": "1", "apic": "true", "pae": "true", "viridian": "false", "nx": "true"})
	set("VBDs", []any{"OpaqueRef:1", "OpaqueRef:2"})
	set("snapshot_time", time.Date(2024, 4, 20, 12, 0, 0, 0, time.UTC))
	return vm.RecordType(), fields
}

func BenchmarkEncodeVMRecordXML(b *testing.B) {
	t, v := vmRecord()
	buf := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendXMLRPC(buf[:0], t, v)
	}
}

func BenchmarkEncodeVMRecordJSON(b *testing.B) {
	t, v := vmRecord()
	buf := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendJSON(buf[:0], t, v)
	}
}

func BenchmarkParseXMLRPC(b *testing.B) {
	body := []byte(xmlSeeds[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseXMLRPC(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseJSONRPC(b *testing.B) {
	body := []byte(`{"jsonrpc":"2.0","id":0,"method":"VM.get_record","params":["OpaqueRef:5b6c8f3e-1111-2222-3333-444455556666","OpaqueRef:0e5b9c2a-4ad6-4a07-9f4b-8f6f4e2b3a11"]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseJSONRPC(body); err != nil {
			b.Fatal(err)
		}
	}
}
