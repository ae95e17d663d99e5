package config

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/shardgate/shardgate/topo"
)

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlErrors turns an error of yaml.v3 (syntax: "yaml: line 3: ...", or a
// *yaml.TypeError with one "line N: ..." per problem) into errors of file:
// a *topo.Error, or topo.Errors when there are several.
func yamlErrors(file, what string, msgs []string) error {
	var out topo.Errors
	for _, m := range msgs {
		e := &topo.Error{File: file, Reason: what + strings.TrimPrefix(m, "yaml: ")}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			e.Line, _ = strconv.Atoi(sm[1])
			e.Reason = what + sm[2]
		}
		out = append(out, e)
	}
	if len(out) == 1 {
		return out[0]
	}
	return out
}
