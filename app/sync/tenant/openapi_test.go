package tenant

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPI keeps openapi.json and the implementation in step: the path,
// the acknowledgement's fields and the error codes the reference server
// answers with.
func TestOpenAPI(t *testing.T) {
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Paths["/v1/orgs/{org}/batches"]["post"]; !ok {
		t.Fatal("openapi.json lacks POST /v1/orgs/{org}/batches")
	}
	check := func(schema string, v any) {
		t.Helper()
		s := doc.Components.Schemas[schema]
		typ := reflect.TypeOf(v)
		for i := 0; i < typ.NumField(); i++ {
			tag, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if _, ok := s.Properties[tag]; !ok {
				t.Errorf("schema %s lacks %s", schema, tag)
			}
		}
		for _, r := range s.Required {
			found := false
			for i := 0; i < typ.NumField(); i++ {
				if strings.HasPrefix(typ.Field(i).Tag.Get("json"), r) {
					found = true
				}
			}
			if !found {
				t.Errorf("schema %s requires %s, which %s does not have", schema, r, typ)
			}
		}
	}
	check("Ack", AckResponse{})
	check("Error", ErrorResponse{})
	src, _ := os.ReadFile("server.go")
	var codes []string
	_ = json.Unmarshal(doc.Components.Schemas["Error"].Properties["code"], &struct {
		Enum *[]string `json:"enum"`
	}{&codes})
	for _, c := range []string{"not_found", "unauthorized", "bad_request", "too_large", "inconsistent", "conflict"} {
		if !strings.Contains(string(src), `"`+c+`"`) || !slices.Contains(codes, c) {
			t.Errorf("error code %s is not both answered by Server and documented", c)
		}
	}
}
