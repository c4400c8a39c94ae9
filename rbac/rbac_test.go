package rbac

import (
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/xapisim/xapisim/xapi/datamodel"
)

// TestEveryMessageForEveryRole checks, over the whole generated schema, that each of the
// six user roles holds a message's permission exactly when the datamodel lists the role.
func TestEveryMessageForEveryRole(t *testing.T) {
	s := datamodel.Load()
	p := New(s)
	decisions := 0
	for _, m := range s.Messages() {
		perm := strings.ToLower(m.WireName)
		for _, role := range UserRoles {
			assert.Equal(t, slices.Contains(m.Roles, role), p.Has(role, perm), "%s for %s", perm, role)
			decisions++
		}
	}
	t.Logf("%d decisions over %d messages", decisions, len(s.Messages()))
	assert.Greater(t, decisions, 6*1900)
}

func TestKeyPermissions(t *testing.T) {
	p := New(datamodel.Load())
	for _, tc := range []struct {
		field, key, pattern string
	}{
		{"VM.other_config", "folder", "folder"},
		{"VM.other_config", "XenCenter.CustomFields.owner", "XenCenter.CustomFields.*"},
		{"VM.other_config", "xencenter.customfields.owner", ""},
		{"VM.other_config", "pci", "pci"},
		{"VM.other_config", "ordinary", ""},
		{"VM.platform", "hvm_serial", "hvm_serial"},
		{"pool.other_config", "EMPTY_FOLDERS", "EMPTY_FOLDERS"},
		{"task.other_config", "applies_to", "applies_to"},
		{"VM.tags", "folder", ""},
	} {
		assert.Equal(t, tc.pattern, p.ProtectedKey(tc.field, tc.key), "%s[%s]", tc.field, tc.key)
	}
	folder := KeyPermission("VM.add_to_other_config", "folder")
	assert.Equal(t, "vm.add_to_other_config/key:folder", folder)
	assert.True(t, p.Has("vm-operator", folder), "a vm-operator may file a VM in a folder")
	assert.False(t, p.Has("vm-operator", "vm.add_to_other_config"))
	assert.False(t, p.Has("vm-admin", KeyPermission("VM.add_to_other_config", "pci")), "pci is pool-admin's")
	assert.True(t, p.Has("pool-admin", KeyPermission("VM.add_to_other_config", "pci")))
	assert.True(t, p.Has("vm-operator", KeyPermission("VM.remove_from_other_config", "XenCenter.CustomFields.*")))
	assert.Equal(t, []string{"pool-admin", "pool-operator"}, p.Holders(TaskDestroyAny))
	assert.False(t, p.Has("vm-admin", TaskDestroyAny))
}

func TestDeniedMessage(t *testing.T) {
	p := New(datamodel.Load())
	assert.Equal(t, "No permission in user session. (Roles with this permission: pool-admin, pool-operator, vm-power-admin, vm-admin, vm-operator)",
		p.DeniedMessage("vm.start"))
	assert.Empty(t, p.Holders("vm_get_record"), "the Class_msg alias is held by no role")
}

func TestRoleUUIDs(t *testing.T) {
	for name, uuid := range map[string]string{
		"pool-admin":     "0165f154-ba3e-034e-6b27-5d271af109ba",
		"pool-operator":  "b9ce9791-0604-50cd-0649-09b3284c7dfd",
		"vm-power-admin": "7955168d-7bec-10ed-105f-c6a7e6e63249",
		"vm-admin":       "aaa00ab5-7340-bfbc-0d1b-7cf342639a6e",
		"vm-operator":    "fb8d4ff9-310c-a959-0613-54101535d3d5",
		"read-only":      "7233b8e3-eacb-d7da-2c95-f2e581cdbf4e",
		"client-cert":    "2c42debf-c64a-2ecd-f674-3350f06409f7",
	} {
		assert.Equal(t, uuid, UUID(name), name)
	}
	assert.Equal(t, "OpaqueRef:"+UUID("vm.start"), Ref("vm.start"))
}
