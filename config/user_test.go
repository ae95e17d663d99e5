package config

import "testing"

func TestUserMayUse(t *testing.T) {
	var none *User
	all := &User{Name: "app"}
	some := &User{Name: "reporting", Keyspaces: []string{"customer"}}
	for _, tc := range []struct {
		u    *User
		ks   string
		want bool
	}{
		{none, "customer", true},
		{all, "commerce", true},
		{some, "customer", true},
		{some, "commerce", false},
		{some, "Customer", false}, // names as defined
	} {
		if got := tc.u.MayUse(tc.ks); got != tc.want {
			t.Errorf("%v.MayUse(%q) = %v, want %v", tc.u, tc.ks, got, tc.want)
		}
	}
}
