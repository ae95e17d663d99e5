package clients

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const connectorJJar = "/usr/share/java/mariadb-java-client.jar"

// connectorJModes are the JDBC URL options each run of testdata/Main.java
// uses (the name makes its table names unique).
var connectorJModes = []struct{ name, params string }{
	{"sp1", "useServerPrepStmts=true"},
	{"sp0", "useServerPrepStmts=false"},
	{"rw", "useServerPrepStmts=false&rewriteBatchedStatements=true"},
}

// TestConnectorJ compiles testdata/Main.java and runs it with each mode of
// connectorJModes against the proxy and against the plain reference server:
// startup queries, all types through PreparedStatement (binary protocol with
// server-side prepared statements, text otherwise) and Statement, stream
// parameters, ResultSetMetaData, batches (rewritten into multi-row INSERTs
// and multi-statement UPDATEs with rewriteBatchedStatements), streaming with
// setFetchSize, transactions over two shards, isolation, getGeneratedKeys
// from a sequence, DatabaseMetaData and setCatalog.
func TestConnectorJ(t *testing.T) {
	p := start(t)
	for _, bin := range []string{"java", "javac"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (apt-get install default-jdk-headless): %v", bin, err)
		}
	}
	if _, err := os.Stat(connectorJJar); err != nil {
		t.Fatalf("Connector/J is not installed (apt-get install libmariadb-java): %v", err)
	}
	classes := t.TempDir()
	src, err := filepath.Abs("testdata/Main.java")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("javac", "-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC", "-encoding", "UTF-8", "-d", classes, "-cp", connectorJJar, src).CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}
	idA, idB := idOnShard(t, 0, 1000), idOnShard(t, 1, 1000)
	for _, tg := range targets(t, p) {
		for _, m := range connectorJModes {
			t.Run(tg.name+"/"+m.params, func(t *testing.T) {
				host, port := hostPort(t, tg.addr)
				runChecks(t, "Connector/J "+m.params+" ("+tg.name+")", 2*time.Minute, "java",
					"-Dfile.encoding=UTF-8", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-cp", classes+string(os.PathListSeparator)+connectorJJar,
					"Main", host, port, m.params, m.name, strconv.FormatInt(idA, 10), strconv.FormatInt(idB, 10))
			})
		}
	}
}
