package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSchemaIsUpToDate fails when regenerating the schema from ../shared would change the
// committed schema.json: run `make generate` and commit the result.
func TestSchemaIsUpToDate(t *testing.T) {
	shared := filepath.Join("..", "..", "..", "..", "..", "shared")
	if _, err := os.Stat(filepath.Join(shared, "xenapi", "xenapi.json")); err != nil {
		t.Skip("../shared is not beside the checkout")
	}
	got, err := Generate(shared, "facts.json")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("..", "..", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("schema.json is stale: run `make generate` and commit it")
	}
}
