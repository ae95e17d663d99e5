package engine

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// The schema, identical on the proxy (through which it is created) and on
// the reference MariaDB. Sharded keyspace `customer`: customer and corder
// sharded by customer_id (co-located), payment sharded by its own key
// payment_id (so payment joined to customer or corder is not co-located),
// country a reference table (a copy on every shard and in the global
// keyspace). Global keyspace `commerce`: product (unsharded).
//
// Every table states its collation: utf8mb4_general_ci (the server default:
// case- and accent-insensitive, PAD SPACE, every character outside the BMP
// weighs the same) except payment.method, which is utf8mb4_bin.
var schemaDDL = []string{
	`CREATE TABLE customer (
  customer_id BIGINT NOT NULL,
  name VARCHAR(64) NULL,
  email VARCHAR(100) NULL,
  country_code CHAR(2) NULL,
  balance DECIMAL(12,2) NOT NULL,
  created DATETIME NOT NULL,
  score INT NULL,
  PRIMARY KEY (customer_id),
  KEY by_country (country_code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`,
	`CREATE TABLE corder (
  order_id BIGINT NOT NULL,
  customer_id BIGINT NOT NULL,
  product_id INT NULL,
  qty INT NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  status VARCHAR(16) NULL,
  ordered_at DATETIME NOT NULL,
  PRIMARY KEY (order_id),
  KEY by_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`,
	`CREATE TABLE payment (
  payment_id BIGINT NOT NULL,
  customer_id BIGINT NULL,
  order_id BIGINT NULL,
  amount DECIMAL(12,2) NOT NULL,
  method VARCHAR(16) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  paid_at DATETIME NULL,
  note VARCHAR(100) NULL,
  PRIMARY KEY (payment_id),
  KEY by_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`,
	`CREATE TABLE country (
  code CHAR(2) NOT NULL,
  name VARCHAR(64) NOT NULL,
  region VARCHAR(32) NULL,
  PRIMARY KEY (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`,
	`CREATE TABLE commerce.product (
  product_id INT NOT NULL,
  name VARCHAR(64) NOT NULL,
  category VARCHAR(32) NULL,
  price DECIMAL(10,2) NOT NULL,
  PRIMARY KEY (product_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci`,
}

// engineVSchema is the customer keyspace's vschema (YAML).
const engineVSchema = `vindexes:
  hash: {type: hash}
tables:
  customer:
    column_vindexes: [{column: customer_id, name: hash}]
  corder:
    column_vindexes: [{column: customer_id, name: hash}]
  payment:
    column_vindexes: [{column: payment_id, name: hash}]
  country: {type: reference}
  big:
    column_vindexes: [{column: id, name: hash}]
`

// Table sizes of the generated data.
const (
	nCustomers = 500
	nOrders    = 1500
	nPayments  = 800
	nProducts  = 40
)

// Names with duplicates and case/accent/PAD SPACE variants that
// utf8mb4_general_ci considers equal ('émile' = 'Emile' = 'EMILE',
// 'Bob ' = 'bob', 'straße' != 'strasse' but 'ß' = 's', emoji all equal).
// customer_id 1..len(fixedNames) get them in this order.
var fixedNames = []string{
	"émile", "Emile", "EMILE", "Zoë", "zoe", "ZOË", "", "Alice", "alice", "ALICE",
	"Bob", "Bob ", "bob", "Chloé", "chloe", "Dmitri", "Åsa", "asa", "Ängel", "Ørjan",
	"Łukasz", "lukasz", "Ñandú", "nandu", "straße", "Strasse", "José", "jose", "Jose\u0301", "O'Brien",
	`back\slash`, "日本", "中文", "한국어", "😀 smile", "🎉 smile", "🙂", "Zeta", "zeta", "Yusuf",
	"Ÿvonne", "Ísak", "Ìsak", "\u00a0nbsp", "a\tb", "Quote\"d", "50% off", "under_score", "ß", "s",
}

var countries = []struct{ code, name, region string }{
	{"FR", "France", "Europe"}, {"DE", "Deutschland", "Europe"}, {"JP", "日本", "Asia"},
	{"US", "United States", "Americas"}, {"CI", "Côte d'Ivoire", "Africa"}, {"GB", "United Kingdom", "Europe"},
	{"ES", "España", "Europe"}, {"IT", "Italia", "Europe"}, {"NO", "Norge", "europe"},
	{"SE", "Sverige", "EUROPE"}, {"BR", "Brasil", "Americas"}, {"CN", "中国", "Asia"},
	{"KR", "대한민국", "Asia"}, {"IS", "Ísland", "Europe"}, {"AT", "Österreich", "Europe"},
	{"PL", "Polska", "Europe"}, {"MX", "México", "Américas"}, {"CA", "Canada", ""},
	{"ZA", "South Africa", "Africa"}, {"AQ", "Antarctica", "\x00null"}, // region NULL
}

var (
	statuses   = []string{"new", "NEW", "paid", "Paid", "shipped", "shipped", "cancelled", "", "\x00null"}
	methods    = []string{"card", "Card", "CARD", "iban", "cash", "Cash", "\x00null"}
	categories = []string{"toys", "Toys", "books", "food", "électronique", "Electronique", "\x00null"}
	notes      = []string{"", "thanks", "Merci beaucoup", "merci beaucoup", "déjà payé", "DEJA PAYE", "🎉", "refund ⚠", "\x00null"}
)

// nullMark as a generated string value means SQL NULL.
const nullMark = "\x00null"

// bigCustomerIDs are customer ids beyond 2^53 and near the BIGINT limit, to
// catch a proxy that goes through float64 or uint64 on the way.
var bigCustomerIDs = []int64{9007199254740993, 9007199254740995, 4611686018427387904, 9223372036854775806}

// dataset is the generated content of every table, as SQL literals.
type dataset struct {
	customers, orders, payments, countries, products [][]string
	customerIDs                                      []int64
}

func sqlString(s string) string {
	if s == nullMark {
		return "NULL"
	}
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(s) + "'"
}

func sqlDecimal(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

func sqlTime(t time.Time) string { return "'" + t.Format("2006-01-02 15:04:05") + "'" }

// generate builds the data set from a fixed seed: the same on every run.
func generate() *dataset {
	r := rand.New(rand.NewPCG(20240601, 4))
	d := &dataset{}
	pick := func(list []string) string { return list[r.IntN(len(list))] }
	base := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	when := func() time.Time { return base.Add(time.Duration(r.IntN(3*365*24*3600)) * time.Second) }

	for _, c := range countries {
		d.countries = append(d.countries, []string{sqlString(c.code), sqlString(c.name), sqlString(c.region)})
	}
	codes := []string{"fr", "XX", nullMark} // lower-case code (= 'FR' under the collation), unknown, NULL
	for _, c := range countries {
		codes = append(codes, c.code, c.code) // weighted towards real codes
	}

	for i := 1; i <= nProducts; i++ {
		name := fmt.Sprintf("Widget %d", i%25) // duplicate names
		switch i % 7 {
		case 1:
			name = fmt.Sprintf("Gadget é%d", i%5)
		case 2:
			name = fmt.Sprintf("GADGET E%d", i%5)
		}
		price := int64(r.IntN(20000))
		switch i % 10 {
		case 0:
			price = 0
		case 9:
			price = -150
		}
		d.products = append(d.products, []string{strconv.Itoa(i), sqlString(name), sqlString(pick(categories)), sqlDecimal(price)})
	}

	var ids []int64
	for i := 1; i <= nCustomers-len(bigCustomerIDs); i++ {
		ids = append(ids, int64(i))
	}
	ids = append(ids, bigCustomerIDs...)
	d.customerIDs = ids
	for i, id := range ids {
		var name string
		switch {
		case i < len(fixedNames):
			name = fixedNames[i]
		case r.IntN(20) == 0:
			name = nullMark
		default:
			name = fixedNames[r.IntN(len(fixedNames))]
		}
		email := fmt.Sprintf("user%d@example.com", id)
		switch r.IntN(12) {
		case 0:
			email = nullMark
		case 1:
			email = "shared@example.com"
		case 2:
			email = "Shared@Example.com"
		}
		balance := int64(r.IntN(600000)) - 50000
		switch r.IntN(10) {
		case 0:
			balance = 0
		case 1:
			balance = 1000 // 10.00, a frequent duplicate
		}
		score := "NULL"
		if r.IntN(7) != 0 {
			score = strconv.Itoa(r.IntN(106) - 5)
		}
		d.customers = append(d.customers, []string{
			strconv.FormatInt(id, 10), sqlString(name), sqlString(email), sqlString(pick(codes)),
			sqlDecimal(balance), sqlTime(when()), score,
		})
	}

	for i := 1; i <= nOrders; i++ {
		cid := ids[r.IntN(len(ids)*3/4)] // a quarter of the customers have no orders
		if r.IntN(50) == 0 {
			cid = 777777 // orphan: no such customer
		}
		pid := strconv.Itoa(1 + r.IntN(nProducts))
		switch r.IntN(33) {
		case 0:
			pid = "NULL"
		case 1:
			pid = "999"
		}
		qty := r.IntN(23) - 2
		price := int64(r.IntN(50000))
		if r.IntN(15) == 0 {
			price = 0
		}
		d.orders = append(d.orders, []string{
			strconv.Itoa(10000 + i), strconv.FormatInt(cid, 10), pid, strconv.Itoa(qty),
			sqlDecimal(price), sqlString(pick(statuses)), sqlTime(when()),
		})
	}

	for i := 1; i <= nPayments; i++ {
		cid := strconv.FormatInt(ids[r.IntN(len(ids))], 10)
		if r.IntN(30) == 0 {
			cid = "NULL"
		}
		oid := strconv.Itoa(10001 + r.IntN(nOrders))
		if r.IntN(8) == 0 {
			oid = "NULL"
		}
		amount := int64(r.IntN(100000)) - 10000
		if r.IntN(12) == 0 {
			amount = 0
		}
		paid := "NULL"
		if r.IntN(10) != 0 {
			paid = sqlTime(when())
		}
		d.payments = append(d.payments, []string{
			strconv.Itoa(50000 + i), cid, oid, sqlDecimal(amount), sqlString(pick(methods)), paid, sqlString(pick(notes)),
		})
	}
	return d
}

// inserts renders multi-row INSERT statements of at most batch rows.
func inserts(table, cols string, rows [][]string, batch int) []string {
	var out []string
	for len(rows) > 0 {
		n := min(batch, len(rows))
		var b strings.Builder
		fmt.Fprintf(&b, "INSERT INTO %s (%s) VALUES ", table, cols)
		for i, row := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(" + strings.Join(row, ", ") + ")")
		}
		out = append(out, b.String())
		rows = rows[n:]
	}
	return out
}

// loadStatements is the whole data load, in order (run in keyspace/database
// customer).
func (d *dataset) loadStatements() []string {
	var out []string
	out = append(out, inserts("country", "code, name, region", d.countries, 100)...)
	out = append(out, inserts("commerce.product", "product_id, name, category, price", d.products, 100)...)
	out = append(out, inserts("customer", "customer_id, name, email, country_code, balance, created, score", d.customers, 100)...)
	out = append(out, inserts("corder", "order_id, customer_id, product_id, qty, price, status, ordered_at", d.orders, 150)...)
	out = append(out, inserts("payment", "payment_id, customer_id, order_id, amount, method, paid_at, note", d.payments, 100)...)
	return out
}
