package router

import (
	"github.com/shardgate/shardgate/router/engine"
	"github.com/shardgate/shardgate/wire"
)

// writeRows sends a result set the proxy computed itself, in the text or the
// binary protocol as the client's command requires.
func (vc *vcursor) writeRows(fields []wire.Field, rows [][]string) error {
	b := wire.AppendLenEncInt(nil, uint64(len(fields)))
	if err := vc.Write(b); err != nil {
		return err
	}
	ptrs := make([]*wire.Field, len(fields))
	for i := range fields {
		f := &fields[i]
		if f.Charset == 0 {
			f.Charset = 45
		}
		ptrs[i] = f
		if err := vc.Write(wire.AppendField(nil, f)); err != nil {
			return err
		}
	}
	if err := vc.WriteEOF(0); err != nil {
		return err
	}
	var row, bin []byte
	for _, r := range rows {
		row = row[:0]
		for _, v := range r {
			row = wire.AppendTextValue(row, []byte(v), false)
		}
		out := row
		if vc.ps != nil {
			var err error
			if bin, err = engine.TextRowToBinary(bin[:0], row, ptrs); err != nil {
				return err
			}
			out = bin
		}
		vc.rows++
		if err := vc.Write(out); err != nil {
			return err
		}
	}
	return vc.WriteEOF(0)
}
