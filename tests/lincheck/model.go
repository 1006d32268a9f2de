// Package lincheck is test support: it records write histories against
// zoogate (workload.go) and checks them with the register model of
// internal/linmodel. Only tests import it; the drill uses linmodel alone,
// so the binary does not link package testing.
package lincheck

import "github.com/zoogate/zoogate/internal/linmodel"

// The model's types and value, under their historical names.
type (
	Input  = linmodel.Input
	Output = linmodel.Output
)

// Model is linmodel.Model.
var Model = linmodel.Model
