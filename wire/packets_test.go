package wire

import "testing"

func TestParseTruncated(t *testing.T) {
	for _, p := range [][]byte{{0x00, 0xfe}, {0, 0xfe, 0, 0, 0, 0, 0}, {0x00}, {0, 0xfc}} {
		if _, err := ParseOK(p); err == nil {
			t.Errorf("ParseOK(%x): no error", p)
		}
		if _, err := ParseField(p); err == nil {
			t.Errorf("ParseField(%x): no error", p)
		}
		_ = OKStatusOffset(p)
	}
	ok := OK{AffectedRows: 3, Status: 2, Info: "Rows matched: 3  Changed: 3  Warnings: 0"}
	got, err := ParseOK(AppendOK(nil, &ok))
	if err != nil || got != ok {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
}
