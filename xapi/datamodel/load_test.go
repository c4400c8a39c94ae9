package datamodel

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLoadSchema(t *testing.T) {
	s := Load()
	vm := s.Class("VM")
	require.NotNil(t, vm)
	assert.Equal(t, vm, s.ClassFold("vm"))
	start := s.Message("VM.start")
	require.NotNil(t, start)
	assert.True(t, start.Session)
	assert.Equal(t, 3, len(start.Params))
	assert.Equal(t, Void, start.Result.Kind)
	ps := vm.Field("power_state")
	assert.Equal(t, "Halted", ps.Default)
	assert.True(t, ps.Type.Enum.Has("Running"))
	v, ok := ps.Type.Enum.Lookup("running")
	assert.True(t, ok)
	assert.Equal(t, "Running", v)
	gar := s.Message("VM.get_all_records")
	require.NotNil(t, gar)
	assert.Equal(t, Map, gar.Result.Kind)
	assert.Equal(t, vm, gar.Result.Elem.Class)
	assert.NotNil(t, s.Message("VM.get_all_records_where"))
	assert.Nil(t, s.Message("session.get_all"))
	assert.NotNil(t, s.Class("VM_group"))
	assert.NotNil(t, s.Message("VM.set_groups"))
	assert.Equal(t, []string{"class", "handle"}, s.Errors["HANDLE_INVALID"].Params)
}

func TestParseType(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind Kind
	}{
		{"string", String}, {"VM ref", Ref}, {"VM ref set", Set}, {"enum vm_operations set", Set},
		{"(VM ref -> (string -> string) map) map", Map}, {"string option", Option}, {"VM record", Record},
		{"(int -> float) map", Map}, {"string set set", Set}, {"an event batch", EventBatch},
	} {
		ty, err := ParseType(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.kind, ty.Kind, tc.in)
		assert.Equal(t, tc.in, ty.String())
	}
	ty, _ := ParseType("(VM ref -> (string -> string) map) map")
	assert.Equal(t, Ref, ty.Key.Kind)
	assert.Equal(t, Map, ty.Elem.Kind)
	_, err := ParseType("wat")
	assert.Error(t, err)
}
