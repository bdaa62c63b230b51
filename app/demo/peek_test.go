package demo

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/axiomops/axiom-audit/storage"
)

func TestPeek(t *testing.T) {
	end := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	n := 0
	Generate(Options{Events: 60, Seed: 1, End: end}, func(e storage.Event) error {
		b, _ := json.Marshal(e)
		if n < 60 { fmt.Println(string(b)) }
		n++
		return nil
	})
}
