package engine

import "testing"

func TestAddInfo(t *testing.T) {
	for _, c := range [][3]string{
		{"Rows matched: 1  Changed: 1  Warnings: 0", "Rows matched: 1  Changed: 0  Warnings: 2", "Rows matched: 2  Changed: 1  Warnings: 2"},
		{"", "Records: 2  Duplicates: 0  Warnings: 0", "Records: 2  Duplicates: 0  Warnings: 0"},
		{"Records: 2  Duplicates: 1  Warnings: 1", "Records: 1  Duplicates: 1  Warnings: 1", "Records: 3  Duplicates: 2  Warnings: 2"},
	} {
		if got := addInfo(c[0], c[1]); got != c[2] {
			t.Errorf("addInfo(%q, %q) = %q, want %q", c[0], c[1], got, c[2])
		}
	}
}
