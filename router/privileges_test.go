package router

import "testing"

func TestHasProcess(t *testing.T) {
	for _, tc := range []struct {
		rows []string
		want bool
	}{
		{[]string{"GRANT USAGE ON *.* TO `sg`@`%` IDENTIFIED BY PASSWORD '*D8'", "GRANT SELECT, INSERT ON `customer`.* TO `sg`@`%`"}, false},
		{[]string{"GRANT PROCESS ON *.* TO `sg`@`127.0.0.1` IDENTIFIED BY PASSWORD '*D8'"}, true},
		{[]string{"GRANT RELOAD, PROCESS, SLAVE MONITOR ON *.* TO `sg`@`%`"}, true},
		{[]string{"GRANT ALL PRIVILEGES ON *.* TO `root`@`%` WITH GRANT OPTION"}, true},
		{[]string{"GRANT PROCESS ON `customer`.* TO `sg`@`%`"}, false}, // not a database right
	} {
		var rows [][]string
		for _, r := range tc.rows {
			rows = append(rows, []string{r})
		}
		if got := hasProcess(rows); got != tc.want {
			t.Errorf("hasProcess(%q) = %v, want %v", tc.rows, got, tc.want)
		}
	}
}
