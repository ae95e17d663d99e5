package engine

import (
	"reflect"
	"testing"
)

// TestParseTemplatePlaceholders pins which quoted words are placeholders:
// named ones in either quote, binds in either, computed columns only as
// string literals, aliases only as identifiers, and a malformed number is
// plain text.
func TestParseTemplatePlaceholders(t *testing.T) {
	got := ParseTemplate("SELECT '__sg_col_2__' AS `__sg_alias_1__`, `__sg_col_3__`, '__sg_alias_4__' FROM `__sg_schema__`.t " +
		"WHERE a = '__sg_bind_0__' AND b = '__sg_bind_x__' AND c = '__sg_user__' LIMIT __sg_limit__").Segs
	want := []segment{
		{Kind: segText, text: "SELECT "}, {Kind: SegCol, N: 2}, {Kind: segText, text: " AS "}, {Kind: segAlias, N: 1},
		{Kind: segText, text: ", `__sg_col_3__`, '__sg_alias_4__' FROM "}, {Kind: segSchema},
		{Kind: segText, text: ".t WHERE a = "}, {Kind: segBind, N: 0},
		{Kind: segText, text: " AND b = '__sg_bind_x__' AND c = "}, {Kind: segUser},
		{Kind: segText, text: " LIMIT __sg_limit__"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("segments:\n got %+v\nwant %+v", got, want)
	}
}
