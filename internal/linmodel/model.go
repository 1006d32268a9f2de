// Package linmodel is a porcupine model of a znode's data version under
// setData and version-checked setData, used to check that write histories
// recorded against zoogate are linearizable: by the tests (through
// tests/lincheck, which records them) and by `zoogate drill`. It imports
// neither testing nor anything of zoogate.
package linmodel

import (
	"fmt"

	"github.com/anishathalye/porcupine"
)

// Register model for porcupine: a znode's data version. Writes are setData
// with version -1 (the reply tells the new version) and version-checked
// setData (compare-and-set); an outcome that is unknown (connection lost
// mid-request) may or may not have happened.
type Input struct {
	Key    int
	Expect int32 // -1: unconditional
}

type Output struct {
	OK      bool  // applied (false: BadVersion)
	Version int32 // the new version when ok
	Unknown bool
}

var Model = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		for _, op := range h {
			k := op.Input.(Input).Key
			by[k] = append(by[k], op)
		}
		var out [][]porcupine.Operation
		for _, ops := range by {
			out = append(out, ops)
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{int32(0)} },
	Step: func(state, input, output interface{}) []interface{} {
		v := state.(int32)
		in, out := input.(Input), output.(Output)
		applies := in.Expect == -1 || in.Expect == v
		switch {
		case out.Unknown:
			if applies {
				return []interface{}{v, v + 1}
			}
			return []interface{}{v}
		case out.OK:
			if applies && out.Version == v+1 {
				return []interface{}{v + 1}
			}
			return nil
		default: // BadVersion
			if !applies {
				return []interface{}{v}
			}
			return nil
		}
	},
	DescribeOperation: func(input, output interface{}) string {
		return fmt.Sprintf("%+v -> %+v", input, output)
	},
}
