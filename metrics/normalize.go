package metrics

import "github.com/shardgate/shardgate/internal/sqllex"

// maxNormalized bounds the length of a normalized statement.
const maxNormalized = sqllex.MaxNormalized

// Normalize returns sql with literals replaced by ?, comments removed,
// whitespace collapsed and lists of placeholders shortened to "?, ...", so
// statements of one shape share one line in the top-queries table and the
// slow-query log, and no values (which may be personal data) are kept
// (sqllex.Normalize).
func Normalize(sql string) string { return sqllex.Normalize(sql) }
