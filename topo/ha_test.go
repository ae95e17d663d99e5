package topo

import (
	"testing"
)

func TestRoleCell(t *testing.T) {
	var c RoleCell
	if c.Load() != nil {
		t.Fatal("zero cell has roles")
	}
	ch := c.Changed()
	r := &ShardRoles{Primary: "a:1", Term: 2}
	c.Publish(r)
	select {
	case <-ch:
	default:
		t.Fatal("Changed not closed by Publish")
	}
	if c.Load() != r {
		t.Fatal("Load after Publish")
	}
	ch2 := c.Changed()
	select {
	case <-ch2:
		t.Fatal("new Changed channel already closed")
	default:
	}
}
