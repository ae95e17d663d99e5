package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/go-mysql-org/go-mysql/mysql"
)

// Packet headers.
const (
	OKHeader  = 0x00
	EOFHeader = 0xfe
	ErrHeader = 0xff
)

// Errorf returns an *Error with the SQLSTATE that belongs to code.
func Errorf(code uint16, format string, args ...any) *Error {
	state, ok := mysql.MySQLState[code]
	if !ok {
		state = "HY000"
	}
	return &Error{Code: code, State: state, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as a MySQL error; errors that are not one become 1105.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Errorf(mysql.ER_UNKNOWN_ERROR, "%s", err.Error())
}

// ParseError decodes an ERR packet payload.
func ParseError(p []byte) *Error {
	e := &Error{Code: mysql.ER_UNKNOWN_ERROR, State: "HY000"}
	if len(p) < 3 {
		e.Message = "malformed error packet"
		return e
	}
	e.Code = binary.LittleEndian.Uint16(p[1:3])
	rest := p[3:]
	if len(rest) > 0 && rest[0] == '#' && len(rest) >= 6 {
		e.State = string(rest[1:6])
		rest = rest[6:]
	}
	e.Message = string(rest)
	return e
}

// AppendError appends an ERR packet payload.
func AppendError(b []byte, e *Error) []byte {
	b = append(b, ErrHeader, byte(e.Code), byte(e.Code>>8), '#')
	state := e.State
	if len(state) != 5 {
		state = "HY000"
	}
	b = append(b, state...)
	return append(b, e.Message...)
}

// OK is the content of an OK packet.
type OK struct {
	AffectedRows uint64
	LastInsertID uint64
	Status       uint16
	Warnings     uint16
	Info         string
}

// AppendOK appends an OK packet payload.
func AppendOK(b []byte, ok *OK) []byte {
	b = append(b, OKHeader)
	b = mysql.AppendLengthEncodedInteger(b, ok.AffectedRows)
	b = mysql.AppendLengthEncodedInteger(b, ok.LastInsertID)
	b = binary.LittleEndian.AppendUint16(b, ok.Status)
	b = binary.LittleEndian.AppendUint16(b, ok.Warnings)
	if ok.Info == "" {
		return b
	}
	// MariaDB sends the info string length-encoded (net_store_data), and
	// its clients read it so: do the same.
	b = mysql.AppendLengthEncodedInteger(b, uint64(len(ok.Info)))
	return append(b, ok.Info...)
}

// ParseOK decodes an OK packet payload.
func ParseOK(p []byte) (OK, error) {
	var ok OK
	if len(p) < 7 || p[0] != OKHeader {
		return ok, errors.New("malformed OK packet")
	}
	pos := 1
	v, n, good := lenEncInt(p[pos:])
	if !good {
		return ok, errors.New("malformed OK packet")
	}
	ok.AffectedRows = v
	pos += n
	v, n, good = lenEncInt(p[pos:])
	if !good {
		return ok, errors.New("malformed OK packet")
	}
	ok.LastInsertID = v
	pos += n
	if len(p) < pos+4 {
		return ok, errors.New("malformed OK packet")
	}
	ok.Status = binary.LittleEndian.Uint16(p[pos:])
	ok.Warnings = binary.LittleEndian.Uint16(p[pos+2:])
	info := p[pos+4:]
	// MariaDB length-encodes the info string; MySQL without session
	// tracking sends it to the end of the packet.
	if n, w, good := lenEncInt(info); good && w+int(n) == len(info) {
		info = info[w:]
	}
	ok.Info = string(info)
	return ok, nil
}

// OKStatusOffset returns the offset of the status flags in an OK payload.
func OKStatusOffset(p []byte) int {
	pos := 1
	for i := 0; i < 2; i++ {
		_, n, good := lenEncInt(p[min(pos, len(p)):])
		if !good {
			return -1
		}
		pos += n
	}
	if pos+2 > len(p) {
		return -1
	}
	return pos
}

// AppendEOF appends an EOF packet payload.
func AppendEOF(b []byte, warnings, status uint16) []byte {
	b = append(b, EOFHeader)
	b = binary.LittleEndian.AppendUint16(b, warnings)
	return binary.LittleEndian.AppendUint16(b, status)
}

// IsEOF reports whether p is an EOF packet (not a long row starting with 0xfe).
func IsEOF(p []byte) bool { return len(p) > 0 && p[0] == EOFHeader && len(p) < 9 }

// Field is a column definition.
type Field struct {
	Schema, Table, OrgTable, Name, OrgName string
	Charset                                uint16
	Length                                 uint32
	Type                                   byte
	Flags                                  uint16
	Decimals                               byte
}

// AppendField appends a column definition (protocol 41) payload.
func AppendField(b []byte, f *Field) []byte {
	b = appendLenEncString(b, "def")
	b = appendLenEncString(b, f.Schema)
	b = appendLenEncString(b, f.Table)
	b = appendLenEncString(b, f.OrgTable)
	b = appendLenEncString(b, f.Name)
	b = appendLenEncString(b, f.OrgName)
	b = append(b, 0x0c)
	cs := f.Charset
	if cs == 0 {
		cs = 45 // utf8mb4_general_ci
	}
	b = binary.LittleEndian.AppendUint16(b, cs)
	b = binary.LittleEndian.AppendUint32(b, f.Length)
	b = append(b, f.Type)
	b = binary.LittleEndian.AppendUint16(b, f.Flags)
	return append(b, f.Decimals, 0, 0)
}

// ParseField decodes a column definition payload.
func ParseField(p []byte) (*Field, error) {
	f := &Field{}
	pos := 0
	var strs [6]string
	for i := range strs {
		n, w, good := lenEncInt(p[min(pos, len(p)):])
		if !good || pos+w+int(n) > len(p) {
			return nil, errors.New("malformed column definition")
		}
		strs[i] = string(p[pos+w : pos+w+int(n)])
		pos += w + int(n)
	}
	f.Schema, f.Table, f.OrgTable, f.Name, f.OrgName = strs[1], strs[2], strs[3], strs[4], strs[5]
	if len(p) < pos+13 {
		return nil, errors.New("malformed column definition")
	}
	pos++ // length of fixed fields
	f.Charset = binary.LittleEndian.Uint16(p[pos:])
	f.Length = binary.LittleEndian.Uint32(p[pos+2:])
	f.Type = p[pos+6]
	f.Flags = binary.LittleEndian.Uint16(p[pos+7:])
	f.Decimals = p[pos+9]
	return f, nil
}

func appendLenEncString(b []byte, s string) []byte {
	b = mysql.AppendLengthEncodedInteger(b, uint64(len(s)))
	return append(b, s...)
}

// AppendTextValue appends one text-protocol column value; nil is NULL.
func AppendTextValue(b []byte, v []byte, null bool) []byte {
	if null {
		return append(b, 0xfb)
	}
	b = mysql.AppendLengthEncodedInteger(b, uint64(len(v)))
	return append(b, v...)
}

// AppendLenEncInt appends a length-encoded integer.
func AppendLenEncInt(b []byte, n uint64) []byte { return mysql.AppendLengthEncodedInteger(b, n) }

// lenEncInt decodes a length-encoded integer, reporting truncated input
// instead of panicking on it (shard packets are not trusted blindly).
func lenEncInt(b []byte) (n uint64, width int, ok bool) {
	if len(b) == 0 {
		return 0, 0, false
	}
	switch b[0] {
	case 0xfc:
		if len(b) < 3 {
			return 0, 0, false
		}
		return uint64(b[1]) | uint64(b[2])<<8, 3, true
	case 0xfd:
		if len(b) < 4 {
			return 0, 0, false
		}
		return uint64(b[1]) | uint64(b[2])<<8 | uint64(b[3])<<16, 4, true
	case 0xfe:
		if len(b) < 9 {
			return 0, 0, false
		}
		return binary.LittleEndian.Uint64(b[1:]), 9, true
	case 0xfb, 0xff:
		return 0, 1, false
	}
	return uint64(b[0]), 1, true
}
