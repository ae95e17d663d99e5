# Differential corpus of the scatter-gather engine (issue 4).
#
# Every SELECT below runs through shardgate (keyspace `customer` on 2 and on 4
# shards, keyspace `commerce` unsharded) and against one plain MariaDB holding
# the same rows (databases `customer` and `commerce`), with the text and the
# binary protocol; the results must be the same. Schema and data: see
# ../data_test.go (customer, corder sharded by customer_id; payment sharded by
# payment_id; country a reference table; commerce.product unsharded). Names
# are full of collation traps on purpose: 'émile' = 'Emile' = 'EMILE',
# 'Bob ' = 'bob' (PAD SPACE), 'fr' = 'FR', every emoji weighs the same;
# payment.method is utf8mb4_bin ('card' != 'Card').
#
# Format
#   ## category          starts a category (subtests are grouped by it)
#   # text               a comment
#   -- directive         applies to the next statement (several may stack)
#   SQL ...;             a statement, over one or more lines, ending with ';'
#
# How rows are compared (values as the go-sql-driver returns them, as text;
# NULL is not 'NULL'; 12.5 is not 12.50; column names and types must match):
#   no ORDER BY                   as multisets (any order)
#   LIMIT without ORDER BY        the number of rows only
#   ORDER BY: exactly one of
#   -- keys: 2,1                  the ORDER BY keys are these result columns
#                                 (1-based; a prefix of the ORDER BY list is
#                                 fine); add b for a binary-collation key (2b).
#                                 The sequence of keys must be the reference's
#                                 (strings compared by utf8mb4_general_ci
#                                 weight); rows with equal keys may come in
#                                 any order; with LIMIT, the tie at the end of
#                                 the window (and at its start, with OFFSET)
#                                 may hold other tied rows.
#   -- ordered                    the ORDER BY is total (but its keys are not
#                                 all selected): row for row
#   -- unordered                  ORDER BY on unselected, non-unique keys: as
#                                 multisets (the number of rows with LIMIT)
# Other directives:
#   -- args: [7, "x", 1.5]        parameters for '?' (integers bind as int64,
#                                 other numbers as strings)
#   -- ci: 1,3 / -- exact         which string columns compare by collation
#                                 weight. Default: every string column when the
#                                 SQL has GROUP BY, DISTINCT, UNION, MIN( or
#                                 MAX( (they return any one of the
#                                 collation-equal spellings), none otherwise.
#                                 Use -- exact for utf8mb4_bin columns.
#   -- refuse-ok                  refusing with error 1235 also passes (the
#                                 issue allows refusing subqueries/derived
#                                 tables that cannot be pushed down whole)
#   -- known-gap: reason          a construct the engine does not support yet:
#                                 a 1235 refusal passes and is listed in the
#                                 summary; a wrong answer still fails
#   -- name: text                 subtest name (default: the SQL)

## scan: plain scatter and filters, no merge work beyond concatenation
SELECT * FROM customer;
SELECT * FROM corder;
SELECT * FROM payment;
SELECT customer_id, name FROM customer WHERE score > 50;
SELECT customer_id, balance FROM customer WHERE balance < 0;
SELECT customer_id, balance FROM customer WHERE balance = 0;
SELECT * FROM customer WHERE name = 'emile';
SELECT * FROM customer WHERE name = 'Zoe';
SELECT customer_id, name FROM customer WHERE name = 'bob';
SELECT customer_id, name FROM customer WHERE name LIKE 'z%';
SELECT customer_id, name FROM customer WHERE name LIKE '%é%';
SELECT customer_id, name FROM customer WHERE name = '';
SELECT customer_id, name FROM customer WHERE name IS NULL;
SELECT customer_id FROM customer WHERE email IS NULL;
SELECT customer_id, email FROM customer WHERE email = 'shared@example.com';
SELECT customer_id, score FROM customer WHERE score IS NULL OR score < 0;
SELECT order_id, qty * price AS total FROM corder WHERE qty <= 0;
SELECT payment_id, method FROM payment WHERE method = 'card';
SELECT payment_id, method FROM payment WHERE method IS NULL;
SELECT customer_id, UPPER(name), LOWER(name), LENGTH(name), CHAR_LENGTH(name) FROM customer WHERE customer_id <= 50;
SELECT customer_id, CONCAT(name, '/', IFNULL(country_code, '--')) AS label FROM customer WHERE customer_id BETWEEN 30 AND 60;
SELECT * FROM country;
SELECT * FROM commerce.product;
SELECT order_id, status FROM corder WHERE status = '';
SELECT order_id, status FROM corder WHERE status IS NULL;
SELECT customer_id, created FROM customer WHERE created >= '2023-06-01';
SELECT customer_id, name FROM customer WHERE customer_id > 1000000;
SELECT customer_id, name FROM customer.customer WHERE score = 7;
SELECT customer_id, name FROM customer WHERE name IN ('zoe', 'ALICE', '', 'straße');
SELECT customer_id, name FROM customer WHERE name REGEXP '^[a-z]';
SELECT order_id, customer_id FROM corder WHERE customer_id = 777777 OR product_id = 999;
SELECT * FROM customer WHERE 1 = 0;

## routed: = and IN on the sharding column (one shard, or a few)
SELECT * FROM customer WHERE customer_id = 1;
SELECT * FROM customer WHERE customer_id = 9007199254740993;
-- args: [9223372036854775806]
SELECT * FROM customer WHERE customer_id = ?;
-- args: [12]
SELECT customer_id, name, balance FROM customer WHERE customer_id = ?;
SELECT * FROM customer WHERE customer_id = 999999;
SELECT * FROM customer WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8);
SELECT * FROM customer WHERE customer_id IN (9007199254740993, 9007199254740995, 4611686018427387904);
-- args: [3, 9, 27]
SELECT customer_id, name FROM customer WHERE customer_id IN (?, ?, ?);
SELECT * FROM corder WHERE customer_id = 7;
SELECT * FROM corder WHERE customer_id IN (7, 8, 777777);
SELECT * FROM payment WHERE payment_id = 50001;
SELECT * FROM payment WHERE payment_id IN (50001, 50002, 50003, 50400, 50800);
SELECT * FROM payment WHERE customer_id = 7;
SELECT * FROM customer WHERE customer_id = 5 OR customer_id = 6;
SELECT * FROM customer WHERE customer_id = 5 AND name = 'x';
SELECT COUNT(*), SUM(qty), AVG(price) FROM corder WHERE customer_id = 7;
SELECT COUNT(*), SUM(qty), AVG(price) FROM corder WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
SELECT customer_id, COUNT(*), SUM(qty) FROM corder WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10) GROUP BY customer_id;
SELECT MIN(name), MAX(name) FROM customer WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20);
SELECT DISTINCT country_code FROM customer WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
-- ordered
SELECT customer_id, name FROM customer WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10) ORDER BY name, customer_id;
-- keys: 1
SELECT customer_id, name FROM customer WHERE customer_id IN (11, 12, 13, 14, 15, 16, 17, 18, 19, 20) ORDER BY customer_id DESC LIMIT 5;
-- keys: 1
SELECT order_id FROM corder WHERE customer_id = 7 ORDER BY order_id DESC LIMIT 3;
-- keys: 1
SELECT order_id, qty FROM corder WHERE customer_id IN (3, 4, 10) ORDER BY order_id;
-- args: [4, 10]
-- keys: 2,1
SELECT order_id, qty FROM corder WHERE customer_id IN (?, ?) ORDER BY qty DESC, order_id;
SELECT c.name, o.order_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE c.customer_id = 7;
-- args: [10]
SELECT c.name, o.order_id, o.qty FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE c.customer_id = ?;
SELECT COUNT(*) FROM customer WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16);
SELECT country_code, COUNT(*) FROM customer WHERE customer_id = 7 GROUP BY country_code;
SELECT score, COUNT(*) FROM customer WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30) GROUP BY score;
SELECT MIN(ordered_at), MAX(ordered_at) FROM corder WHERE customer_id = 7;

## order_by: merge-sort of the shards' sorted streams
-- keys: 1
SELECT customer_id, name FROM customer ORDER BY customer_id;
-- keys: 1
SELECT customer_id, name FROM customer ORDER BY customer_id DESC;
-- keys: 2
SELECT customer_id, name FROM customer ORDER BY name;
-- keys: 2
SELECT customer_id, name FROM customer ORDER BY name DESC;
-- keys: 2,1
SELECT customer_id, name FROM customer ORDER BY name, customer_id;
-- keys: 2,1
SELECT customer_id, name FROM customer ORDER BY name DESC, customer_id DESC;
-- keys: 2,1
SELECT customer_id, name FROM customer ORDER BY name ASC, customer_id DESC;
-- keys: 2
SELECT customer_id, score FROM customer ORDER BY score;
-- keys: 2
SELECT customer_id, score FROM customer ORDER BY score DESC;
-- keys: 2,1
SELECT customer_id, score FROM customer ORDER BY score, customer_id;
-- keys: 2,1
SELECT customer_id, score FROM customer ORDER BY score DESC, customer_id;
-- keys: 2
SELECT customer_id, balance FROM customer ORDER BY balance;
-- keys: 2
SELECT customer_id, balance FROM customer ORDER BY balance DESC;
-- keys: 2,3,1
SELECT customer_id, balance, name FROM customer ORDER BY balance, name, customer_id;
-- keys: 2
SELECT customer_id, created FROM customer ORDER BY created;
-- keys: 2,1
SELECT customer_id, created FROM customer ORDER BY created DESC, customer_id;
-- keys: 2
SELECT customer_id, email FROM customer ORDER BY email;
-- keys: 2,1
SELECT customer_id, email FROM customer ORDER BY email DESC, customer_id DESC;
-- keys: 2
SELECT customer_id, country_code FROM customer ORDER BY country_code DESC;
-- keys: 3,2
SELECT customer_id, name, country_code FROM customer ORDER BY country_code, name;
-- keys: 4,7,1
SELECT * FROM customer ORDER BY country_code DESC, score DESC, customer_id;
-- keys: 1
SELECT * FROM corder ORDER BY order_id;
-- keys: 2,1
SELECT * FROM corder ORDER BY customer_id, order_id;
-- keys: 5,1
SELECT * FROM corder ORDER BY price DESC, order_id;
-- keys: 2
SELECT order_id, status FROM corder ORDER BY status;
-- keys: 2,1
SELECT order_id, status FROM corder ORDER BY status DESC, order_id DESC;
-- keys: 2
SELECT order_id, product_id FROM corder ORDER BY product_id;
-- keys: 2,1
SELECT order_id, product_id FROM corder ORDER BY product_id DESC, order_id;
-- keys: 2b,1
SELECT payment_id, method FROM payment ORDER BY method, payment_id;
-- keys: 2b
SELECT payment_id, method FROM payment ORDER BY method DESC;
-- keys: 2
SELECT payment_id, note FROM payment ORDER BY note;
-- keys: 2,1
SELECT payment_id, paid_at FROM payment ORDER BY paid_at, payment_id;
-- keys: 2,1
SELECT payment_id, amount FROM payment ORDER BY amount, payment_id;
-- ordered
SELECT name FROM customer ORDER BY customer_id;
-- ordered
SELECT name, score FROM customer ORDER BY score DESC, customer_id;
-- unordered
SELECT name FROM customer ORDER BY score;
-- ordered
SELECT customer_id, balance FROM customer ORDER BY -balance, customer_id;
-- keys: 3
SELECT order_id, qty, qty * price AS total FROM corder ORDER BY total;
-- keys: 2,1
SELECT order_id, qty * price AS total FROM corder ORDER BY total DESC, order_id;
-- keys: 2,1
SELECT customer_id, name FROM customer ORDER BY 2, 1;
-- keys: 2,1
SELECT customer_id AS id, name AS n FROM customer ORDER BY n DESC, id;
-- keys: 2
SELECT customer_id, LOWER(name) AS lname FROM customer ORDER BY lname;
-- keys: 2,1
SELECT customer_id, CHAR_LENGTH(name) AS len FROM customer ORDER BY len, customer_id;
-- ordered
SELECT customer_id, name FROM customer ORDER BY name COLLATE utf8mb4_bin, customer_id;
-- keys: 2b
SELECT customer_id, name FROM customer ORDER BY name COLLATE utf8mb4_bin DESC;
-- ordered
SELECT customer_id, name FROM customer ORDER BY BINARY name, customer_id;
-- ordered
SELECT customer_id, score FROM customer ORDER BY score IS NULL, score, customer_id;
-- ordered
SELECT customer_id, score FROM customer ORDER BY IFNULL(score, 1000), customer_id;
-- keys: 3,2,1
SELECT customer_id, name, score FROM customer WHERE score BETWEEN 10 AND 20 ORDER BY score DESC, name, customer_id;
-- keys: 2,1
SELECT customer_id, name FROM customer WHERE country_code = 'FR' ORDER BY name DESC, customer_id;
-- keys: 2,1
SELECT payment_id, amount FROM payment WHERE amount < 0 ORDER BY amount DESC, payment_id;
-- ordered
SELECT customer_id, created FROM customer ORDER BY YEAR(created) DESC, MONTH(created), customer_id;
-- ordered
SELECT customer_id, name FROM customer WHERE name IS NOT NULL ORDER BY CHAR_LENGTH(name), name, customer_id;
-- keys: 1
SELECT customer_id FROM customer WHERE customer_id > 400 ORDER BY customer_id DESC;
-- keys: 3,1
SELECT order_id, customer_id, ordered_at FROM corder ORDER BY ordered_at DESC, order_id;
-- keys: 1
SELECT country_code, customer_id FROM customer ORDER BY country_code;
-- keys: 2,1
SELECT c.customer_id, c.name FROM customer c ORDER BY c.name, c.customer_id;
-- keys: 2
SELECT customer_id, name FROM customer WHERE name LIKE '%e%' ORDER BY name DESC;
-- keys: 2,1
SELECT customer_id, balance * 2 AS dbl FROM customer ORDER BY dbl, customer_id;
-- keys: 6,1
SELECT * FROM customer ORDER BY created DESC, customer_id;
-- keys: 2,3,1
SELECT customer_id, score, balance FROM customer ORDER BY score DESC, balance, customer_id;
-- keys: 2
SELECT customer_id, name FROM customer WHERE customer_id <= 50 ORDER BY name;
-- keys: 2,1
SELECT customer_id, name FROM customer WHERE customer_id <= 50 ORDER BY name DESC, customer_id;
-- keys: 2
SELECT customer_id, CONCAT(IFNULL(country_code, '??'), '-', customer_id) AS tag FROM customer ORDER BY tag;
-- keys: 2,1
SELECT order_id, status FROM corder WHERE status IN ('new', 'paid') ORDER BY status, order_id;
-- keys: 4,1
SELECT payment_id, customer_id, order_id, note FROM payment ORDER BY note DESC, payment_id;
-- keys: 1,2
SELECT customer_id, order_id FROM corder WHERE qty = 0 ORDER BY customer_id DESC, order_id DESC;
-- keys: 2,1
SELECT customer_id, email FROM customer WHERE email LIKE 'shared%' ORDER BY email, customer_id;

## limit: LIMIT n and LIMIT n OFFSET m (n+m pushed to the shards, cut at the proxy)
-- keys: 1
SELECT customer_id, name FROM customer ORDER BY customer_id LIMIT 10;
-- keys: 1
SELECT customer_id, name FROM customer ORDER BY customer_id DESC LIMIT 10;
-- keys: 1
SELECT customer_id, name FROM customer ORDER BY customer_id LIMIT 10 OFFSET 20;
-- keys: 1
SELECT customer_id, name FROM customer ORDER BY customer_id LIMIT 20, 10;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT 0;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT 5 OFFSET 498;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT 5 OFFSET 1000;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT 1000;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id DESC LIMIT 1;
-- keys: 2
SELECT customer_id, name FROM customer ORDER BY name LIMIT 10;
-- keys: 2
SELECT customer_id, name FROM customer ORDER BY name DESC LIMIT 10;
-- keys: 2,1
SELECT customer_id, name FROM customer ORDER BY name, customer_id LIMIT 10;
-- keys: 2,1
SELECT customer_id, name FROM customer ORDER BY name DESC, customer_id LIMIT 15 OFFSET 5;
-- keys: 2
SELECT customer_id, score FROM customer ORDER BY score LIMIT 30;
-- keys: 2,1
SELECT customer_id, score FROM customer ORDER BY score DESC, customer_id LIMIT 25;
-- keys: 2
SELECT customer_id, score FROM customer ORDER BY score DESC LIMIT 1;
-- keys: 5,1
SELECT * FROM corder ORDER BY price DESC, order_id LIMIT 10;
-- keys: 7,1
SELECT * FROM corder ORDER BY ordered_at, order_id LIMIT 10 OFFSET 100;
SELECT * FROM customer LIMIT 10;
SELECT customer_id FROM corder LIMIT 5 OFFSET 5;
SELECT * FROM payment WHERE amount > 0 LIMIT 3;
SELECT * FROM customer LIMIT 0;
SELECT * FROM customer LIMIT 1000;
SELECT order_id FROM corder WHERE qty > 5 LIMIT 100, 50;
-- keys: 2,1
SELECT payment_id, amount FROM payment ORDER BY amount DESC, payment_id LIMIT 7 OFFSET 3;
-- keys: 2,1
SELECT order_id, qty FROM corder WHERE status = 'paid' ORDER BY qty DESC, order_id LIMIT 12;
-- keys: 2b
SELECT payment_id, method FROM payment ORDER BY method LIMIT 50;
-- keys: 2b,1
SELECT payment_id, method FROM payment ORDER BY method DESC, payment_id LIMIT 20 OFFSET 110;
-- keys: 2,1
SELECT customer_id, balance FROM customer ORDER BY balance, customer_id LIMIT 1;
-- keys: 2,1
SELECT customer_id, balance FROM customer ORDER BY balance DESC, customer_id LIMIT 1;
-- ordered
SELECT name FROM customer ORDER BY customer_id LIMIT 10;
-- ordered
SELECT name FROM customer ORDER BY customer_id DESC LIMIT 10 OFFSET 10;
-- keys: 2,1
SELECT order_id, qty * price AS total FROM corder ORDER BY total DESC, order_id LIMIT 10;
-- keys: 2,1
SELECT customer_id, email FROM customer ORDER BY email, customer_id LIMIT 40;
-- args: [5, 10]
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT ? OFFSET ?;
-- args: [3]
-- keys: 2,1
SELECT customer_id, name FROM customer ORDER BY name DESC, customer_id LIMIT ?;
-- keys: 2,1
SELECT customer_id, created FROM customer ORDER BY created DESC, customer_id LIMIT 5 OFFSET 495;
-- unordered
SELECT name FROM customer ORDER BY score LIMIT 5;
-- keys: 1
SELECT order_id FROM corder WHERE customer_id IN (1, 2, 3, 4, 5, 6) ORDER BY order_id LIMIT 5;
-- ordered
SELECT customer_id, name FROM customer ORDER BY BINARY name DESC, customer_id LIMIT 10;
-- keys: 2
SELECT customer_id, country_code FROM customer ORDER BY country_code LIMIT 12 OFFSET 3;
-- keys: 2
SELECT order_id, status FROM corder ORDER BY status DESC LIMIT 400;
-- keys: 2,1
SELECT customer_id, name FROM customer WHERE score > 30 ORDER BY name, customer_id LIMIT 50 OFFSET 50;
-- keys: 1
SELECT customer_id FROM customer WHERE 1 = 0 ORDER BY customer_id LIMIT 5;

## aggregate: aggregates over every shard, and over empty inputs
SELECT COUNT(*) FROM customer;
SELECT COUNT(*) FROM corder;
SELECT COUNT(*) FROM payment;
SELECT count(*) FROM customer;
SELECT COUNT( * ) FROM corder;
SELECT COUNT(1) FROM customer;
SELECT COUNT(name), COUNT(email), COUNT(score) FROM customer;
SELECT COUNT(DISTINCT country_code) FROM customer;
SELECT COUNT(DISTINCT name) FROM customer;
SELECT COUNT(DISTINCT email) FROM customer;
-- exact
SELECT COUNT(DISTINCT method) FROM payment;
SELECT COUNT(DISTINCT customer_id) FROM corder;
SELECT COUNT(DISTINCT product_id) FROM corder;
SELECT COUNT(DISTINCT status) FROM corder;
SELECT COUNT(DISTINCT country_code, score) FROM customer;
# COUNT(DISTINCT a, b): distinct tuples without NULLs, strings by collation;
# several DISTINCT aggregates over different columns in one query.
SELECT COUNT(DISTINCT name, country_code) FROM customer;
SELECT COUNT(DISTINCT customer_id, status) FROM corder;
SELECT COUNT(DISTINCT email, name) FROM customer WHERE 1 = 0;
SELECT COUNT(DISTINCT status, product_id), COUNT(*) FROM corder WHERE qty > 1000;
SELECT COUNT(DISTINCT method, customer_id) FROM payment;
SELECT COUNT(DISTINCT name, email), COUNT(DISTINCT name) FROM customer;
SELECT COUNT(DISTINCT country_code), COUNT(DISTINCT name), COUNT(*) FROM customer;
SELECT SUM(DISTINCT qty), COUNT(DISTINCT product_id), AVG(DISTINCT price), SUM(qty), MIN(price), MAX(status) FROM corder;
SELECT COUNT(DISTINCT name), COUNT(DISTINCT email), MIN(name), MAX(email), SUM(DISTINCT score) FROM customer WHERE 1 = 0;
SELECT COUNT(DISTINCT c.name), COUNT(DISTINCT o.product_id), COUNT(*) FROM customer c JOIN corder o ON o.customer_id = c.customer_id;
SELECT COUNT(DISTINCT LOWER(name)), COUNT(DISTINCT UPPER(name)), COUNT(DISTINCT name) FROM customer;
-- args: [10]
SELECT COUNT(DISTINCT status), COUNT(DISTINCT product_id) FROM corder WHERE qty > ?;
SELECT COUNT(DISTINCT status), COUNT(DISTINCT product_id), COUNT(DISTINCT status, product_id) FROM corder WHERE customer_id = 5;
SELECT COUNT(DISTINCT email), COUNT(DISTINCT score, email), AVG(DISTINCT balance) FROM customer;
SELECT SUM(balance) FROM customer;
SELECT SUM(score) FROM customer;
SELECT SUM(qty) FROM corder;
SELECT SUM(qty * price) FROM corder;
SELECT SUM(amount) FROM payment;
SELECT SUM(customer_id) FROM customer;
SELECT MIN(balance), MAX(balance) FROM customer;
SELECT MIN(score), MAX(score) FROM customer;
SELECT MIN(created), MAX(created) FROM customer;
SELECT MIN(customer_id), MAX(customer_id) FROM customer;
SELECT MIN(name), MAX(name) FROM customer;
SELECT MIN(email), MAX(email) FROM customer;
-- exact
SELECT MIN(method), MAX(method) FROM payment;
SELECT MIN(paid_at), MAX(paid_at), COUNT(paid_at) FROM payment;
SELECT MAX(qty * price), MIN(qty * price) FROM corder;
SELECT AVG(balance) FROM customer;
SELECT AVG(score) FROM customer;
SELECT AVG(qty) FROM corder;
SELECT AVG(price) FROM corder;
SELECT AVG(amount) FROM payment;
SELECT AVG(customer_id) FROM customer;
SELECT AVG(price * qty) FROM corder;
SELECT COUNT(*), SUM(balance), AVG(balance), MIN(balance), MAX(balance) FROM customer WHERE score > 50;
SELECT COUNT(*), SUM(balance), AVG(balance), MIN(balance), MAX(balance), COUNT(score) FROM customer WHERE 1 = 0;
SELECT COUNT(*) FROM customer WHERE customer_id < 0;
SELECT SUM(qty), AVG(qty), MIN(qty), MAX(qty), COUNT(DISTINCT qty) FROM corder WHERE qty > 1000;
SELECT MIN(name), MAX(name), COUNT(name) FROM customer WHERE 1 = 0;
SELECT COUNT(*), SUM(score), AVG(score) FROM customer WHERE score IS NULL;
SELECT SUM(DISTINCT qty) FROM corder;
SELECT AVG(DISTINCT score) FROM customer;
SELECT COUNT(*) AS n, SUM(qty) AS total_qty FROM corder WHERE status = 'shipped';
SELECT COUNT(*) + 1, SUM(qty) * 2 FROM corder;
SELECT SUM(qty) / COUNT(*) FROM corder;
SELECT ROUND(AVG(balance), 1) FROM customer;
SELECT MAX(balance) - MIN(balance) FROM customer;
SELECT COUNT(*) FROM customer WHERE name = 'emile';
SELECT COUNT(*) FROM corder WHERE product_id IS NULL;
SELECT SUM(CASE WHEN status = 'paid' THEN 1 ELSE 0 END) FROM corder;
SELECT SUM(IF(qty < 0, qty, 0)), SUM(IF(qty > 0, qty, 0)) FROM corder;
SELECT AVG(balance) FROM customer WHERE country_code = 'FR';
SELECT COUNT(*) FROM country;
SELECT COUNT(*), MAX(name) FROM country;
SELECT COUNT(*) FROM commerce.product;
SELECT SUM(price), AVG(price) FROM commerce.product;
SELECT COUNT(*), AVG(balance) FROM customer WHERE email = 'SHARED@example.com';
-- args: [100]
SELECT COUNT(*), SUM(amount) FROM payment WHERE amount > ?;
-- args: ["12.50"]
SELECT COUNT(*), MIN(balance) FROM customer WHERE balance > ?;

## group_by: GROUP BY, HAVING, with ORDER BY and LIMIT
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code;
SELECT country_code, COUNT(*), SUM(balance), AVG(balance), MIN(balance), MAX(balance) FROM customer GROUP BY country_code;
-- keys: 1
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code ORDER BY country_code;
-- keys: 1
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code ORDER BY country_code DESC;
-- keys: 2,1
SELECT country_code, COUNT(*) AS n FROM customer GROUP BY country_code ORDER BY n DESC, country_code;
SELECT name, COUNT(*) FROM customer GROUP BY name;
-- keys: 1
SELECT name, COUNT(*) FROM customer GROUP BY name ORDER BY name;
-- keys: 2,1
SELECT name, COUNT(*) AS n FROM customer GROUP BY name ORDER BY n DESC, name;
SELECT score, COUNT(*) FROM customer GROUP BY score;
-- keys: 1
SELECT score, COUNT(*) FROM customer GROUP BY score ORDER BY score DESC;
SELECT customer_id, COUNT(*), SUM(qty) FROM corder GROUP BY customer_id;
-- keys: 1
SELECT customer_id, COUNT(*) FROM corder GROUP BY customer_id ORDER BY customer_id;
-- keys: 2,1
SELECT customer_id, SUM(qty * price) AS spent FROM corder GROUP BY customer_id ORDER BY spent DESC, customer_id LIMIT 10;
SELECT status, COUNT(*), SUM(qty), AVG(price) FROM corder GROUP BY status;
-- keys: 1
SELECT status, COUNT(*) FROM corder GROUP BY status ORDER BY status;
SELECT product_id, COUNT(*), SUM(qty) FROM corder GROUP BY product_id;
-- exact
SELECT method, COUNT(*), SUM(amount) FROM payment GROUP BY method;
-- exact
-- keys: 1b
SELECT method, COUNT(*) FROM payment GROUP BY method ORDER BY method;
-- exact
-- keys: 1b
SELECT method, AVG(amount) FROM payment GROUP BY method ORDER BY method DESC LIMIT 3;
SELECT country_code, score, COUNT(*) FROM customer GROUP BY country_code, score;
-- keys: 1,2
SELECT country_code, score, COUNT(*) FROM customer GROUP BY country_code, score ORDER BY country_code, score DESC;
SELECT YEAR(created), COUNT(*) FROM customer GROUP BY YEAR(created);
-- keys: 1
SELECT YEAR(created) AS y, COUNT(*) FROM customer GROUP BY y ORDER BY y;
SELECT YEAR(ordered_at) AS y, MONTH(ordered_at) AS m, COUNT(*), SUM(qty) FROM corder GROUP BY y, m;
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code HAVING COUNT(*) > 25;
SELECT country_code, AVG(balance) FROM customer GROUP BY country_code HAVING AVG(balance) > 2500;
SELECT status, SUM(qty) AS q FROM corder GROUP BY status HAVING q > 1500;
SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id HAVING n >= 8;
SELECT name, COUNT(*) FROM customer GROUP BY name HAVING COUNT(*) > 20;
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code HAVING MIN(score) < 0;
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code HAVING country_code LIKE 'F%';
SELECT country_code, MAX(balance) FROM customer GROUP BY country_code HAVING MAX(balance) > 5000 AND COUNT(*) < 30;
-- args: [25]
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code HAVING COUNT(*) > ?;
-- keys: 2,1
SELECT country_code, COUNT(*) AS n FROM customer GROUP BY country_code HAVING n > 20 ORDER BY n DESC, country_code LIMIT 3;
SELECT score % 10 AS bucket, COUNT(*) FROM customer GROUP BY bucket;
SELECT country_code, COUNT(DISTINCT name) FROM customer GROUP BY country_code;
SELECT customer_id, COUNT(DISTINCT product_id), COUNT(DISTINCT status) FROM corder GROUP BY customer_id;
SELECT country_code, COUNT(DISTINCT name, score) FROM customer GROUP BY country_code;
SELECT status, COUNT(DISTINCT customer_id, product_id), SUM(qty) FROM corder GROUP BY status;
-- keys: 2,1
SELECT customer_id, COUNT(DISTINCT product_id, status) AS n FROM corder GROUP BY customer_id ORDER BY n DESC, customer_id LIMIT 10;
SELECT country_code, COUNT(DISTINCT name), SUM(DISTINCT score), AVG(balance), COUNT(*) FROM customer GROUP BY country_code;
-- keys: 1
SELECT status, COUNT(DISTINCT customer_id), COUNT(DISTINCT product_id), SUM(DISTINCT qty) FROM corder GROUP BY status ORDER BY status DESC;
SELECT customer_id, COUNT(DISTINCT product_id) AS p, COUNT(DISTINCT status) AS s FROM corder GROUP BY customer_id HAVING p > 3 AND COUNT(*) > 4;
-- exact
SELECT customer_id, COUNT(DISTINCT method), COUNT(DISTINCT amount) FROM payment GROUP BY customer_id;
SELECT product_id, COUNT(DISTINCT status), COUNT(DISTINCT qty) FROM corder WHERE qty > 1000 GROUP BY product_id;
SELECT name, COUNT(DISTINCT country_code), COUNT(DISTINCT email), MIN(score), MAX(balance) FROM customer GROUP BY name;
-- keys: 2,1
SELECT country_code, COUNT(DISTINCT name) AS n, COUNT(DISTINCT score) AS m FROM customer GROUP BY country_code ORDER BY n DESC, country_code LIMIT 3;
SELECT YEAR(ordered_at) AS y, COUNT(DISTINCT customer_id), COUNT(DISTINCT product_id, qty) FROM corder GROUP BY y;
SELECT status, COUNT(DISTINCT customer_id) FROM corder GROUP BY status;
SELECT product_id, MIN(price), MAX(price), AVG(qty) FROM corder GROUP BY product_id;
SELECT country_code, MIN(name), MAX(name) FROM customer GROUP BY country_code;
SELECT country_code, SUM(score), AVG(score), COUNT(score) FROM customer GROUP BY country_code;
SELECT country_code, COUNT(*) FROM customer WHERE 1 = 0 GROUP BY country_code;
SELECT COUNT(*) FROM customer GROUP BY country_code;
SELECT SUM(balance) FROM customer GROUP BY score HAVING SUM(balance) > 10000;
-- ordered
SELECT country_code FROM customer GROUP BY country_code ORDER BY COUNT(*) DESC, country_code;
-- refuse-ok
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code WITH ROLLUP;
SELECT customer_id % 7 AS m, COUNT(*) FROM customer GROUP BY m;
SELECT CHAR_LENGTH(name) AS len, COUNT(*) FROM customer GROUP BY len;
SELECT LOWER(name), COUNT(*) FROM customer GROUP BY LOWER(name);
SELECT email, COUNT(*) FROM customer GROUP BY email HAVING COUNT(*) > 1;
-- keys: 2,1
SELECT status, COUNT(*) AS n FROM corder GROUP BY status ORDER BY n DESC, status LIMIT 3;
-- keys: 2
SELECT country_code, SUM(balance) AS total FROM customer GROUP BY country_code ORDER BY total DESC LIMIT 5;
-- keys: 1
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code ORDER BY country_code LIMIT 3 OFFSET 2;
-- keys: 2,1
SELECT product_id, SUM(qty) FROM corder GROUP BY product_id ORDER BY SUM(qty) DESC, product_id LIMIT 5;
-- keys: 2,1
SELECT customer_id, SUM(qty) FROM corder GROUP BY customer_id ORDER BY 2 DESC, 1 LIMIT 10;
-- keys: 2,1
SELECT customer_id, MAX(ordered_at) AS last FROM corder GROUP BY customer_id ORDER BY last DESC, customer_id LIMIT 10;
-- keys: 2,1
SELECT country_code, AVG(score) AS a FROM customer GROUP BY country_code ORDER BY a, country_code;
-- keys: 1
SELECT name, SUM(balance) FROM customer GROUP BY name ORDER BY name DESC LIMIT 8;
-- keys: 3,1
SELECT status, product_id, COUNT(*) AS n FROM corder GROUP BY status, product_id ORDER BY n DESC, status LIMIT 10;
SELECT customer_id, AVG(qty), SUM(price) FROM corder WHERE qty > 0 GROUP BY customer_id HAVING AVG(qty) > 15;
SELECT payment_id % 3 AS r, COUNT(*), SUM(amount) FROM payment GROUP BY r;
SELECT DATE(paid_at) AS d, COUNT(*) FROM payment GROUP BY d HAVING COUNT(*) > 1;
SELECT note, COUNT(*) FROM payment GROUP BY note;
SELECT country_code, COUNT(*), COUNT(email), COUNT(DISTINCT email) FROM customer GROUP BY country_code;

## distinct
SELECT DISTINCT country_code FROM customer;
SELECT DISTINCT name FROM customer;
SELECT DISTINCT score FROM customer;
SELECT DISTINCT status FROM corder;
-- exact
SELECT DISTINCT method FROM payment;
SELECT DISTINCT country_code, score FROM customer;
-- keys: 1
SELECT DISTINCT country_code FROM customer ORDER BY country_code;
-- keys: 1
SELECT DISTINCT name FROM customer ORDER BY name DESC;
-- keys: 1
SELECT DISTINCT score FROM customer ORDER BY score LIMIT 10;
-- keys: 1
SELECT DISTINCT name FROM customer ORDER BY name LIMIT 10 OFFSET 10;
SELECT DISTINCT customer_id FROM corder;
SELECT DISTINCT product_id FROM corder WHERE qty > 10;
SELECT DISTINCT YEAR(created) FROM customer;
SELECT DISTINCT email FROM customer WHERE email LIKE 'shared%';
SELECT DISTINCT LOWER(status) FROM corder;
SELECT DISTINCT qty FROM corder WHERE qty <= 0;
SELECT DISTINCT country_code FROM customer WHERE 1 = 0;
-- keys: 1,2
SELECT DISTINCT country_code, YEAR(created) FROM customer ORDER BY 1, 2;
SELECT DISTINCT note FROM payment;
SELECT DISTINCT region FROM country;
SELECT DISTINCT category FROM commerce.product;
SELECT DISTINCT c.country_code FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE o.qty > 15;
SELECT DISTINCT balance FROM customer WHERE balance BETWEEN -10 AND 10;
-- keys: 1
SELECT DISTINCT status FROM corder ORDER BY status DESC;
SELECT DISTINCT customer_id, status FROM corder WHERE customer_id < 30;

## union: UNION and UNION ALL of routable parts
SELECT name FROM customer WHERE customer_id = 1 UNION SELECT name FROM customer WHERE customer_id = 2;
SELECT name FROM customer WHERE customer_id = 1 UNION ALL SELECT name FROM customer WHERE customer_id = 2;
SELECT name FROM customer WHERE customer_id = 5 UNION SELECT name FROM customer WHERE customer_id = 5;
SELECT customer_id FROM customer UNION SELECT customer_id FROM corder;
SELECT customer_id FROM customer UNION ALL SELECT customer_id FROM corder;
SELECT country_code FROM customer UNION SELECT code FROM country;
SELECT name FROM customer UNION SELECT name FROM commerce.product;
SELECT name FROM customer UNION ALL SELECT name FROM country;
SELECT name FROM customer UNION ALL SELECT name FROM commerce.product;
-- keys: 1
SELECT country_code AS c FROM customer UNION SELECT code FROM country ORDER BY c;
-- keys: 1
SELECT name FROM customer UNION SELECT name FROM country ORDER BY name LIMIT 10;
-- keys: 1
SELECT customer_id AS id FROM customer WHERE score > 90 UNION ALL SELECT order_id FROM corder WHERE qty > 19 ORDER BY id;
(SELECT customer_id, name FROM customer ORDER BY customer_id LIMIT 5) UNION ALL (SELECT customer_id, name FROM customer ORDER BY customer_id DESC LIMIT 5);
-- keys: 1
(SELECT customer_id FROM customer WHERE customer_id < 10) UNION (SELECT customer_id FROM corder WHERE customer_id < 20) ORDER BY customer_id DESC;
# Parenthesized parts with their own ORDER BY / LIMIT (a part that scatters
# is merged before the union), nested unions.
(SELECT customer_id, name FROM customer ORDER BY customer_id LIMIT 3 OFFSET 4) UNION ALL (SELECT order_id, status FROM corder ORDER BY order_id DESC LIMIT 2 OFFSET 1);
(SELECT name FROM customer ORDER BY name, customer_id LIMIT 10) UNION (SELECT name FROM country);
(SELECT customer_id FROM customer WHERE customer_id = 7) UNION ALL (SELECT customer_id FROM corder ORDER BY customer_id DESC, order_id LIMIT 3);
-- keys: 1
(SELECT score FROM customer ORDER BY score DESC LIMIT 5) UNION DISTINCT (SELECT qty FROM corder ORDER BY qty LIMIT 5) ORDER BY 1;
-- keys: 1
(SELECT name FROM commerce.product ORDER BY name LIMIT 3) UNION ALL (SELECT name FROM customer ORDER BY name DESC, customer_id LIMIT 3) ORDER BY name LIMIT 4;
(SELECT customer_id, order_id FROM corder WHERE customer_id = 3 ORDER BY order_id LIMIT 2) UNION ALL (SELECT customer_id, order_id FROM corder WHERE customer_id = 3 ORDER BY order_id DESC LIMIT 2);
((SELECT country_code FROM customer WHERE score > 90) UNION (SELECT code FROM country)) UNION ALL (SELECT country_code FROM customer WHERE customer_id < 5);
-- keys: 1
(SELECT customer_id AS id FROM customer ORDER BY customer_id LIMIT 5) UNION (SELECT customer_id FROM corder ORDER BY customer_id LIMIT 5) ORDER BY id DESC LIMIT 3 OFFSET 1;
(SELECT status FROM corder ORDER BY order_id LIMIT 10) UNION ALL (SELECT status FROM corder ORDER BY order_id DESC LIMIT 10) UNION (SELECT name FROM customer WHERE customer_id < 4);
(SELECT country_code, COUNT(*) FROM customer GROUP BY country_code ORDER BY country_code LIMIT 3) UNION ALL (SELECT code, 0 FROM country);
-- refuse-ok
(SELECT country_code, COUNT(*) AS n FROM customer GROUP BY country_code) UNION (SELECT code, 1 FROM country);
-- keys: 1
((SELECT customer_id FROM customer) UNION (SELECT customer_id FROM corder) ORDER BY customer_id DESC LIMIT 5) UNION ALL (SELECT customer_id FROM payment ORDER BY customer_id LIMIT 2) ORDER BY 1;
(SELECT DISTINCT name FROM customer ORDER BY name LIMIT 5) UNION ALL (SELECT DISTINCT name FROM customer ORDER BY name DESC LIMIT 5);
(SELECT email FROM customer ORDER BY email LIMIT 5) UNION (SELECT email FROM customer ORDER BY email DESC LIMIT 5);
-- args: [3, 2]
(SELECT customer_id FROM customer ORDER BY customer_id LIMIT ?) UNION ALL (SELECT customer_id FROM corder ORDER BY customer_id DESC LIMIT ?);
(SELECT customer_id, balance FROM customer WHERE customer_id < 3) UNION ALL (SELECT customer_id, amount FROM payment ORDER BY payment_id LIMIT 3);
SELECT customer_id, balance FROM customer WHERE customer_id < 5 UNION ALL SELECT customer_id, amount FROM payment WHERE customer_id < 5;
SELECT score FROM customer UNION SELECT qty FROM corder;
SELECT customer_id FROM customer WHERE customer_id < 4 UNION ALL SELECT balance FROM customer WHERE customer_id < 4;
SELECT country_code FROM customer WHERE customer_id IN (1, 2, 3) UNION SELECT country_code FROM customer WHERE customer_id IN (4, 5, 6);
SELECT customer_id FROM corder WHERE qty < 0 UNION SELECT customer_id FROM payment WHERE amount < 0;
SELECT customer_id FROM corder WHERE qty < 0 UNION DISTINCT SELECT customer_id FROM payment WHERE amount < 0 UNION ALL SELECT customer_id FROM customer WHERE score = 0;
SELECT status FROM corder UNION SELECT name FROM customer WHERE customer_id < 20;
-- keys: 1
SELECT email FROM customer WHERE email LIKE 'shared%' UNION ALL SELECT email FROM customer WHERE customer_id < 3 ORDER BY 1;
SELECT customer_id, 'customer' AS src FROM customer WHERE score = 42 UNION ALL SELECT customer_id, 'order' FROM corder WHERE qty = 19;
-- refuse-ok
SELECT COUNT(*) FROM (SELECT customer_id FROM customer UNION SELECT customer_id FROM corder) t;

## subquery: derived tables and subqueries pushed down whole (or refused)
SELECT * FROM (SELECT customer_id, name FROM customer WHERE customer_id = 5) AS t;
SELECT t.customer_id, t.n FROM (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) AS t WHERE t.n > 5;
SELECT t.* FROM (SELECT customer_id, name, balance FROM customer WHERE balance > 4000) t;
-- keys: 2,1
SELECT t.customer_id, t.total FROM (SELECT customer_id, SUM(qty) AS total FROM corder GROUP BY customer_id) t ORDER BY t.total DESC, t.customer_id LIMIT 10;
SELECT COUNT(*) FROM (SELECT customer_id FROM corder GROUP BY customer_id HAVING COUNT(*) > 3) t;
SELECT MAX(n) FROM (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) t;
SELECT AVG(n) FROM (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) t;
SELECT SUM(t.spent) FROM (SELECT customer_id, SUM(qty * price) AS spent FROM corder GROUP BY customer_id) t;
-- keys: 1
SELECT t.customer_id, t.name FROM (SELECT customer_id, name FROM customer WHERE score > 90) t ORDER BY t.customer_id;
SELECT * FROM (SELECT * FROM corder WHERE customer_id = 7) t WHERE t.qty > 2;
-- refuse-ok
SELECT * FROM (SELECT DISTINCT country_code FROM customer) t;
-- refuse-ok
SELECT * FROM (SELECT country_code, COUNT(*) AS n FROM customer GROUP BY country_code) t WHERE n > 25;
-- refuse-ok
SELECT * FROM (SELECT customer_id, name FROM customer ORDER BY customer_id LIMIT 5) t;
-- refuse-ok
SELECT COUNT(*) FROM (SELECT DISTINCT name FROM customer) t;
SELECT customer_id, name FROM customer WHERE customer_id IN (SELECT customer_id FROM corder WHERE qty > 18);
SELECT customer_id, name FROM customer WHERE customer_id NOT IN (SELECT customer_id FROM corder);
SELECT customer_id FROM customer c WHERE EXISTS (SELECT 1 FROM corder o WHERE o.customer_id = c.customer_id AND o.status = 'cancelled');
SELECT customer_id FROM customer c WHERE NOT EXISTS (SELECT 1 FROM corder o WHERE o.customer_id = c.customer_id);
SELECT c.customer_id, (SELECT COUNT(*) FROM corder o WHERE o.customer_id = c.customer_id) AS n FROM customer c;
SELECT c.customer_id, (SELECT MAX(o.price) FROM corder o WHERE o.customer_id = c.customer_id) AS maxp FROM customer c WHERE c.score > 80;
SELECT customer_id, name FROM customer WHERE country_code IN (SELECT code FROM country WHERE region = 'Europe');
SELECT customer_id FROM customer WHERE country_code NOT IN (SELECT code FROM country);
SELECT c.customer_id, (SELECT k.name FROM country k WHERE k.code = c.country_code) AS cname FROM customer c;
SELECT order_id FROM corder WHERE customer_id IN (SELECT customer_id FROM customer WHERE name = 'emile');
SELECT customer_id FROM customer WHERE customer_id IN (SELECT customer_id FROM corder WHERE customer_id = 7);
SELECT c.name, t.n FROM customer c JOIN (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) t ON t.customer_id = c.customer_id;
-- refuse-ok
SELECT customer_id, balance FROM customer WHERE balance > (SELECT AVG(balance) FROM customer);
-- refuse-ok
SELECT order_id, product_id FROM corder WHERE product_id IN (SELECT product_id FROM commerce.product WHERE category = 'toys');
-- refuse-ok
SELECT payment_id FROM payment WHERE customer_id IN (SELECT customer_id FROM customer WHERE score > 95);
-- refuse-ok
SELECT * FROM customer WHERE customer_id = (SELECT MIN(customer_id) FROM customer);
-- refuse-ok
SELECT code, name FROM country WHERE code IN (SELECT country_code FROM customer);
-- refuse-ok
WITH t AS (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) SELECT * FROM t WHERE n > 6;
SELECT c.customer_id, c.score FROM customer c WHERE c.score > (SELECT AVG(o.qty) FROM corder o WHERE o.customer_id = c.customer_id);
-- keys: 2,1
SELECT customer_id, (SELECT COUNT(*) FROM corder o WHERE o.customer_id = c.customer_id) AS n FROM customer c ORDER BY n DESC, customer_id LIMIT 10;

## join: co-located, reference, cross-keyspace and nested-loop joins
SELECT c.customer_id, c.name, o.order_id, o.qty FROM customer c JOIN corder o ON o.customer_id = c.customer_id;
SELECT c.customer_id, o.order_id FROM customer c JOIN corder o ON c.customer_id = o.customer_id WHERE o.qty > 15;
SELECT c.customer_id, o.order_id FROM customer c, corder o WHERE o.customer_id = c.customer_id AND c.score < 0;
SELECT c.customer_id, o.order_id FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id;
SELECT c.customer_id FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id WHERE o.order_id IS NULL;
SELECT o.order_id, c.name FROM corder o LEFT JOIN customer c ON c.customer_id = o.customer_id WHERE c.customer_id IS NULL;
SELECT c.customer_id, o.order_id FROM corder o RIGHT JOIN customer c ON c.customer_id = o.customer_id WHERE c.customer_id < 40;
-- keys: 2
SELECT c.customer_id, o.order_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id ORDER BY o.order_id;
-- keys: 1,2
SELECT c.name, o.order_id, o.price FROM customer c JOIN corder o ON o.customer_id = c.customer_id ORDER BY c.name, o.order_id LIMIT 20;
SELECT c.country_code, COUNT(*), SUM(o.qty) FROM customer c JOIN corder o ON o.customer_id = c.customer_id GROUP BY c.country_code;
-- keys: 2,1
SELECT c.country_code, SUM(o.qty * o.price) AS revenue FROM customer c JOIN corder o ON o.customer_id = c.customer_id GROUP BY c.country_code ORDER BY revenue DESC, c.country_code;
SELECT c.customer_id, c.name, COUNT(o.order_id) FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id GROUP BY c.customer_id, c.name;
SELECT COUNT(*) FROM customer c JOIN corder o ON o.customer_id = c.customer_id;
SELECT COUNT(DISTINCT c.customer_id) FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE o.status = 'paid';
SELECT c.customer_id, o.order_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE c.customer_id IN (1, 2, 3, 4, 5);
SELECT o1.order_id, o2.order_id FROM corder o1 JOIN corder o2 ON o2.customer_id = o1.customer_id AND o2.order_id > o1.order_id WHERE o1.customer_id < 20;
SELECT customer_id, c.name, o.order_id FROM customer c JOIN corder o USING (customer_id) WHERE o.qty = 0;
SELECT DISTINCT c.name FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE o.qty < 0;
-- keys: 1
SELECT c.customer_id, MAX(o.ordered_at) FROM customer c JOIN corder o ON o.customer_id = c.customer_id GROUP BY c.customer_id ORDER BY c.customer_id LIMIT 15;
SELECT AVG(o.qty), SUM(o.price), MIN(c.balance) FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE c.country_code = 'JP';
# reference table
SELECT c.customer_id, k.name FROM customer c JOIN country k ON k.code = c.country_code;
SELECT c.customer_id, k.name, k.region FROM customer c LEFT JOIN country k ON k.code = c.country_code;
SELECT k.region, COUNT(*) FROM customer c JOIN country k ON k.code = c.country_code GROUP BY k.region;
-- keys: 1
SELECT k.region, COUNT(*), AVG(c.balance) FROM customer c JOIN country k ON k.code = c.country_code GROUP BY k.region ORDER BY k.region;
SELECT k.code, k.name, COUNT(c.customer_id) FROM country k LEFT JOIN customer c ON c.country_code = k.code GROUP BY k.code, k.name;
-- refuse-ok
SELECT k.code, c.customer_id FROM country k LEFT JOIN customer c ON c.country_code = k.code AND c.score > 98;
SELECT c.customer_id, o.order_id, k.name FROM customer c JOIN corder o ON o.customer_id = c.customer_id JOIN country k ON k.code = c.country_code WHERE o.qty > 17;
SELECT k.name, SUM(o.qty) FROM corder o JOIN customer c ON c.customer_id = o.customer_id JOIN country k ON k.code = c.country_code GROUP BY k.name;
-- keys: 1
SELECT c.customer_id, k.name FROM customer c JOIN country k ON k.code = c.country_code WHERE k.region = 'Asia' ORDER BY c.customer_id;
SELECT o.order_id, k.region FROM corder o JOIN customer c ON c.customer_id = o.customer_id JOIN country k ON k.code = c.country_code WHERE c.customer_id = 7;
-- keys: 2,1
SELECT k.name, COUNT(*) AS n FROM customer c JOIN country k ON k.code = c.country_code GROUP BY k.name ORDER BY n DESC, k.name LIMIT 5;
SELECT c.customer_id, k.code FROM customer c JOIN country k ON k.region = 'Africa' WHERE c.score = 50;
# cross-keyspace: the unsharded keyspace commerce
SELECT o.order_id, p.name FROM corder o JOIN commerce.product p ON p.product_id = o.product_id WHERE o.customer_id = 7;
SELECT o.order_id, p.name, p.category FROM corder o JOIN commerce.product p ON p.product_id = o.product_id WHERE o.qty > 18;
SELECT o.order_id, p.name FROM corder o LEFT JOIN commerce.product p ON p.product_id = o.product_id WHERE o.qty < 0;
SELECT p.category, SUM(o.qty) FROM corder o JOIN commerce.product p ON p.product_id = o.product_id GROUP BY p.category;
-- keys: 2,1
SELECT p.name, COUNT(*) AS n FROM corder o JOIN commerce.product p ON p.product_id = o.product_id GROUP BY p.name ORDER BY n DESC, p.name LIMIT 5;
SELECT p.product_id, p.name, o.order_id FROM commerce.product p JOIN corder o ON o.product_id = p.product_id WHERE p.category = 'books';
SELECT p.product_id, COUNT(o.order_id) FROM commerce.product p LEFT JOIN corder o ON o.product_id = p.product_id GROUP BY p.product_id;
-- keys: 1
SELECT o.order_id, p.price, o.price FROM corder o JOIN commerce.product p ON p.product_id = o.product_id WHERE o.price > p.price * 2 ORDER BY o.order_id LIMIT 15;
SELECT c.name, p.name FROM customer c JOIN corder o ON o.customer_id = c.customer_id JOIN commerce.product p ON p.product_id = o.product_id WHERE c.customer_id IN (1, 2, 3);
SELECT k.code, p.product_id FROM country k CROSS JOIN commerce.product p WHERE p.price < 0;
# not co-located: nested loop at the proxy
SELECT p.payment_id, c.name FROM payment p JOIN customer c ON c.customer_id = p.customer_id WHERE p.amount > 850;
SELECT c.customer_id, p.payment_id FROM customer c JOIN payment p ON p.customer_id = c.customer_id WHERE c.score > 95;
-- exact
SELECT p.payment_id, o.order_id, o.qty FROM payment p JOIN corder o ON o.order_id = p.order_id WHERE p.method = 'iban';
SELECT c.customer_id, p.payment_id FROM customer c LEFT JOIN payment p ON p.customer_id = c.customer_id WHERE c.customer_id < 30;
SELECT p.payment_id, c.customer_id FROM payment p LEFT JOIN customer c ON c.customer_id = p.customer_id WHERE p.amount < -80;
SELECT COUNT(*) FROM payment p JOIN customer c ON c.customer_id = p.customer_id;
SELECT c.country_code, SUM(p.amount) FROM payment p JOIN customer c ON c.customer_id = p.customer_id GROUP BY c.country_code;
-- keys: 1
SELECT p.payment_id, c.name FROM payment p JOIN customer c ON c.customer_id = p.customer_id ORDER BY p.payment_id LIMIT 20;
-- keys: 1,2,3
SELECT c.name, p.amount, p.payment_id FROM customer c JOIN payment p ON p.customer_id = c.customer_id ORDER BY c.name, p.amount DESC, p.payment_id LIMIT 25;
SELECT o.order_id, p.payment_id FROM corder o JOIN payment p ON p.order_id = o.order_id WHERE o.customer_id = 7;
SELECT p.payment_id, o.customer_id, c.name FROM payment p JOIN corder o ON o.order_id = p.order_id JOIN customer c ON c.customer_id = o.customer_id WHERE p.amount > 880;
SELECT c1.customer_id, c2.customer_id FROM customer c1 JOIN customer c2 ON c2.name = c1.name AND c2.customer_id > c1.customer_id WHERE c1.customer_id <= 50;
SELECT c.customer_id, o.order_id FROM customer c JOIN corder o ON o.customer_id = c.score WHERE c.score BETWEEN 1 AND 5;
SELECT o.order_id, c.customer_id FROM corder o JOIN customer c ON c.score = o.qty WHERE o.customer_id = 7;
-- exact
SELECT p.method, COUNT(*) FROM payment p JOIN corder o ON o.order_id = p.order_id GROUP BY p.method;
SELECT DISTINCT c.country_code FROM payment p JOIN customer c ON c.customer_id = p.customer_id WHERE p.method = 'cash';
SELECT o.order_id, p.payment_id, p.amount FROM corder o LEFT JOIN payment p ON p.order_id = o.order_id WHERE o.customer_id IN (3, 4);
# three and more tables: left-deep joins at the proxy, ((A JOIN B) JOIN C), co-located pairs pushed down as one leaf
SELECT p.payment_id, o.order_id, c.customer_id FROM payment p JOIN corder o ON o.order_id = p.order_id JOIN customer c ON c.customer_id = p.customer_id WHERE p.amount > 700;
SELECT p.payment_id, o.order_id, pr.name FROM payment p LEFT JOIN corder o ON o.order_id = p.order_id LEFT JOIN commerce.product pr ON pr.product_id = o.product_id WHERE p.amount < 0;
SELECT c.customer_id, o.order_id, p.payment_id FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id LEFT JOIN payment p ON p.order_id = o.order_id WHERE c.customer_id < 40;
SELECT c.customer_id, o.order_id, pr.name FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id JOIN commerce.product pr ON pr.product_id = o.product_id WHERE c.score > 90;
SELECT p.payment_id, c.name, o.qty FROM payment p LEFT JOIN customer c ON c.customer_id = p.customer_id LEFT JOIN corder o ON o.order_id = p.order_id WHERE p.customer_id IS NULL OR p.order_id IS NULL;
SELECT pr.product_id, o.order_id, c.name FROM commerce.product pr JOIN corder o ON o.product_id = pr.product_id JOIN customer c ON c.customer_id = o.customer_id WHERE pr.category = 'books';
-- keys: 1,2
SELECT c.name, p.payment_id, o.order_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id JOIN payment p ON p.order_id = o.order_id ORDER BY c.name, p.payment_id LIMIT 30;
-- keys: 1
SELECT p.payment_id, o.order_id, pr.price FROM payment p JOIN corder o ON o.order_id = p.order_id LEFT JOIN commerce.product pr ON pr.product_id = o.product_id ORDER BY p.payment_id LIMIT 10 OFFSET 5;
SELECT pr.category, COUNT(*), SUM(p.amount) FROM payment p JOIN corder o ON o.order_id = p.order_id JOIN commerce.product pr ON pr.product_id = o.product_id GROUP BY pr.category;
SELECT c.country_code, COUNT(p.payment_id), COUNT(*), SUM(p.amount) FROM customer c JOIN corder o ON o.customer_id = c.customer_id LEFT JOIN payment p ON p.order_id = o.order_id WHERE c.customer_id <= 100 GROUP BY c.country_code;
-- keys: 2,1
SELECT k.region, SUM(o.qty) AS q FROM payment p JOIN corder o ON o.order_id = p.order_id JOIN customer c ON c.customer_id = o.customer_id JOIN country k ON k.code = c.country_code GROUP BY k.region ORDER BY q DESC, k.region;
SELECT p.payment_id, o.order_id, c.customer_id FROM payment p JOIN corder o ON o.order_id = p.order_id JOIN customer c ON c.customer_id = p.customer_id WHERE p.method = 'card' AND o.qty > 5 AND c.score > 20;
SELECT c1.customer_id, c2.customer_id, o.order_id FROM customer c1 JOIN customer c2 ON c2.name = c1.name JOIN corder o ON o.customer_id = c2.customer_id WHERE c1.customer_id <= 14 AND c2.customer_id <> c1.customer_id;
SELECT c.customer_id, p.payment_id, k.name FROM customer c JOIN payment p ON p.customer_id = c.customer_id LEFT JOIN country k ON k.code = c.country_code WHERE c.customer_id < 120;
SELECT c.customer_id, o.order_id, p.payment_id, pr.name FROM customer c JOIN corder o ON o.customer_id = c.customer_id JOIN payment p ON p.order_id = o.order_id JOIN commerce.product pr ON pr.product_id = o.product_id WHERE c.customer_id < 60;
SELECT p.payment_id, c.name, k.name, o.order_id FROM payment p LEFT JOIN customer c ON c.customer_id = p.customer_id LEFT JOIN country k ON k.code = c.country_code LEFT JOIN corder o ON o.order_id = p.order_id WHERE p.amount > 850;
SELECT c.customer_id, o.order_id, p.payment_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id LEFT JOIN payment p ON p.order_id = o.order_id AND p.amount * 100 > c.balance WHERE c.customer_id < 50;
SELECT c.customer_id, p.payment_id, o.order_id FROM customer c LEFT JOIN payment p ON p.customer_id = c.customer_id LEFT JOIN corder o ON o.order_id = p.order_id WHERE c.customer_id < 100 AND o.order_id IS NULL;
SELECT c.customer_id, p.payment_id, o.qty FROM customer c LEFT JOIN payment p ON p.customer_id = c.customer_id LEFT JOIN corder o ON o.order_id = p.order_id WHERE c.customer_id < 100 AND (p.amount > 600 OR o.qty > 15);
SELECT k.region, MIN(c.name), MAX(o.status), COUNT(o.order_id) FROM country k JOIN customer c ON c.country_code = k.code LEFT JOIN payment p ON p.customer_id = c.customer_id LEFT JOIN corder o ON o.order_id = p.order_id GROUP BY k.region;
SELECT DISTINCT k.region FROM payment p JOIN customer c ON c.customer_id = p.customer_id JOIN country k ON k.code = c.country_code WHERE p.amount < -50;
SELECT k.code, pr.product_id, c.customer_id FROM country k JOIN commerce.product pr ON pr.price < 0 JOIN customer c ON c.country_code = k.code WHERE c.score = 50;
SELECT o.order_id, p.payment_id, c.name FROM corder o JOIN payment p ON p.order_id = o.order_id JOIN customer c ON c.customer_id = p.customer_id AND c.customer_id <> o.customer_id WHERE o.qty = 3;
SELECT p.payment_id, o.order_id, c.customer_id FROM payment p JOIN corder o ON o.order_id = p.order_id LEFT JOIN customer c ON c.customer_id = o.customer_id WHERE c.customer_id IS NULL;
SELECT COUNT(*), SUM(o.qty), MIN(pr.price), MAX(p.amount) FROM payment p JOIN corder o ON o.order_id = p.order_id JOIN commerce.product pr ON pr.product_id = o.product_id WHERE p.method = 'iban';
-- refuse-ok
SELECT p.payment_id, IFNULL(o.qty, -1) FROM payment p LEFT JOIN corder o ON o.order_id = p.order_id LEFT JOIN customer c ON c.customer_id = o.customer_id WHERE p.amount > 880;
SELECT c.customer_id, p.payment_id FROM customer c LEFT JOIN payment p ON p.customer_id = c.customer_id AND p.paid_at > c.created WHERE c.customer_id < 60;
-- refuse-ok
SELECT c.country_code, COUNT(IFNULL(o.qty, 0)), COUNT(o.qty) FROM customer c LEFT JOIN payment p ON p.customer_id = c.customer_id LEFT JOIN corder o ON o.order_id = p.order_id WHERE c.customer_id < 80 GROUP BY c.country_code;
SELECT c.customer_id, o.order_id, p.payment_id FROM customer c, corder o, payment p WHERE o.customer_id = c.customer_id AND p.order_id = o.order_id AND p.customer_id = c.customer_id;
SELECT c.customer_id, p.payment_id FROM customer c LEFT JOIN payment p ON p.customer_id = c.customer_id AND c.score > 90 WHERE c.customer_id < 40;
SELECT c.customer_id, p.amount FROM customer c LEFT JOIN payment p ON p.customer_id = c.customer_id WHERE c.customer_id < 50 AND (p.amount IS NULL OR p.amount > 500);
# derived tables each shard computes alone (grouped by the sharding column, or unsharded) as a side of a proxy join
SELECT t.customer_id, t.total, c.name FROM (SELECT customer_id, SUM(qty) AS total FROM corder GROUP BY customer_id HAVING SUM(qty) > 60) t JOIN customer c ON c.customer_id = t.customer_id;
SELECT o.order_id, t.name FROM corder o JOIN (SELECT product_id, name FROM commerce.product WHERE price > 100) t ON t.product_id = o.product_id WHERE o.qty > 18;
SELECT p.payment_id, t.customer_id FROM payment p JOIN (SELECT customer_id FROM corder WHERE qty > 15 GROUP BY customer_id) t ON t.customer_id = p.customer_id;
-- refuse-ok
SELECT p.payment_id, t.customer_id FROM payment p JOIN (SELECT DISTINCT customer_id FROM corder WHERE qty > 15) t ON t.customer_id = p.customer_id;
SELECT c.customer_id, t.n, t.last FROM customer c LEFT JOIN (SELECT customer_id, COUNT(*) AS n, MAX(ordered_at) AS last FROM corder WHERE status = 'paid' GROUP BY customer_id) t ON t.customer_id = c.customer_id WHERE c.customer_id <= 60;
SELECT c.name, t.n, pr.name FROM customer c JOIN (SELECT customer_id, product_id, COUNT(*) AS n FROM corder GROUP BY customer_id, product_id) t ON t.customer_id = c.customer_id JOIN commerce.product pr ON pr.product_id = t.product_id WHERE c.customer_id < 30;
SELECT c.country_code, SUM(t.n), COUNT(*) FROM customer c JOIN (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) t ON t.customer_id = c.customer_id GROUP BY c.country_code;
-- keys: 2,1
SELECT t.customer_id, t.n FROM payment p JOIN (SELECT customer_id, COUNT(*) AS n FROM corder GROUP BY customer_id) t ON t.customer_id = p.customer_id WHERE p.amount > 800 ORDER BY t.n DESC, t.customer_id LIMIT 10;
-- refuse-ok
SELECT c.customer_id, t.n FROM customer c LEFT JOIN (SELECT customer_id, COUNT(*) AS n FROM payment GROUP BY customer_id) t ON t.customer_id = c.customer_id WHERE c.customer_id < 50;
-- refuse-ok
SELECT c.customer_id FROM customer c JOIN (SELECT MAX(customer_id) AS m FROM corder) t ON t.m = c.customer_id;
-- refuse-ok
SELECT c.customer_id, t.order_id FROM customer c JOIN (SELECT order_id, customer_id FROM corder ORDER BY order_id LIMIT 5) t ON t.customer_id = c.customer_id;

## expression: expressions, functions and types through the merge
SELECT customer_id, CASE WHEN score IS NULL THEN 'none' WHEN score > 50 THEN 'high' ELSE 'low' END AS band FROM customer;
SELECT customer_id, COALESCE(email, name, 'n/a') FROM customer;
SELECT order_id, qty * price, ROUND(qty * price / 3, 2) FROM corder WHERE customer_id < 50;
SELECT CONCAT(name, ' <', email, '>') FROM customer WHERE email IS NOT NULL;
SELECT customer_id, DATE(created), DATE_FORMAT(created, '%Y-%m') FROM customer;
SELECT customer_id, balance / 3 FROM customer;
SELECT customer_id, HEX(name) FROM customer;
SELECT customer_id, balance, score, balance * score FROM customer WHERE score IS NOT NULL;
SELECT payment_id, amount, -amount, ABS(amount), SIGN(amount) FROM payment;
SELECT customer_id, NULL AS nothing, 'NULL' AS word, '' AS empty FROM customer WHERE customer_id < 10;
SELECT customer_id, CAST(balance AS SIGNED), CAST(score AS CHAR) FROM customer;
SELECT order_id, TIMESTAMPDIFF(DAY, '2021-01-01', ordered_at) AS days FROM corder;
SELECT customer_id, customer_id + 0.5 FROM customer WHERE customer_id > 1000000;
SELECT customer_id, SUBSTRING(name, 1, 2), REVERSE(name) FROM customer WHERE customer_id <= 50;
SELECT customer_id, name = 'emile' AS is_emile, name LIKE 'e%' FROM customer WHERE customer_id <= 50;
-- keys: 2,1
SELECT customer_id, balance / 7 AS b7 FROM customer ORDER BY b7 DESC, customer_id LIMIT 20;
-- known-gap: SUM over a division across shards (partial sums would round)
SELECT COUNT(*), SUM(balance / 3), AVG(balance * 2), MAX(balance / 7) FROM customer;
-- known-gap: AVG over a division across shards (partial sums would round)
SELECT SUM(score * 1.5), AVG(score / 4) FROM customer;
SELECT country_code, ROUND(SUM(balance) / COUNT(*), 3) AS avg3 FROM customer GROUP BY country_code;
SELECT MIN(LOWER(name)), MAX(UPPER(name)) FROM customer;

## plan_cache: statements that differ only in literals (a plan cached for one must not answer the next)
-- keys: 1
SELECT customer_id, name FROM customer ORDER BY 1 LIMIT 5;
-- keys: 2
SELECT customer_id, name FROM customer ORDER BY 2 LIMIT 5;
-- keys: 1
SELECT score, COUNT(*) FROM customer GROUP BY 1 ORDER BY 1 LIMIT 5;
-- keys: 2
SELECT score, COUNT(*) FROM customer GROUP BY 1 ORDER BY 2 LIMIT 5;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT 3;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT 7;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT 3 OFFSET 0;
-- keys: 1
SELECT customer_id FROM customer ORDER BY customer_id LIMIT 3 OFFSET 4;
SELECT * FROM customer WHERE customer_id = 2;
SELECT * FROM customer WHERE customer_id = 3;
SELECT customer_id, name FROM customer WHERE customer_id IN (1, 2);
SELECT customer_id, name FROM customer WHERE customer_id IN (1, 2, 3, 4, 5, 6, 7, 8, 9);
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code HAVING COUNT(*) > 26;
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code HAVING COUNT(*) > 29;
-- keys: 1
SELECT customer_id, 10 FROM customer ORDER BY customer_id LIMIT 2;
-- keys: 1
SELECT customer_id, 20 FROM customer ORDER BY customer_id LIMIT 2;
-- keys: 1
SELECT customer_id, 'a' AS tag FROM customer ORDER BY customer_id DESC LIMIT 2;
-- keys: 1
SELECT customer_id, 'b' AS tag FROM customer ORDER BY customer_id DESC LIMIT 2;
SELECT SUM(qty * 2) FROM corder;
SELECT SUM(qty * 3) FROM corder;
SELECT COUNT(*) FROM corder WHERE qty > 5;
SELECT COUNT(*) FROM corder WHERE qty > 15;
-- ordered
SELECT customer_id FROM customer ORDER BY customer_id % 3, customer_id LIMIT 8;
-- ordered
SELECT customer_id FROM customer ORDER BY customer_id % 5, customer_id LIMIT 8;
SELECT AVG(balance) FROM customer WHERE score > 10;
SELECT AVG(balance) FROM customer WHERE score > 90;
-- args: [10]
SELECT AVG(balance), COUNT(*) FROM customer WHERE score > ?;
-- args: [90]
SELECT AVG(balance), COUNT(*) FROM customer WHERE score > ?;

## gaps: planner gaps a newcomer hits (issue 21, item 6)
# a. Every sharded table pinned to one keyspace id by equalities (outer
# query, subqueries, derived tables, CTEs, EXISTS / IN (SELECT ...)): one
# route to one shard (TestPinnedPlans asserts the plan). 1 and 2 are on the
# same shard with 2 and with 4 shards; 5 and 6 are not.
SELECT * FROM corder o WHERE o.customer_id = 5 AND EXISTS (SELECT 1 FROM customer c WHERE c.customer_id = 5 AND c.name LIKE 'a%');
SELECT o.order_id, o.qty FROM corder o WHERE o.customer_id = 7 AND EXISTS (SELECT 1 FROM customer c WHERE c.customer_id = 7);
SELECT * FROM (SELECT * FROM corder WHERE customer_id = 5) d JOIN customer c ON c.customer_id = d.customer_id WHERE c.customer_id = 5;
SELECT d.order_id, c.name FROM (SELECT * FROM corder WHERE customer_id = 7) d JOIN customer c ON c.customer_id = d.customer_id;
SELECT order_id FROM corder WHERE customer_id = 5 AND product_id IN (SELECT product_id FROM corder WHERE customer_id = 5);
SELECT * FROM customer WHERE customer_id = 5 AND score > (SELECT AVG(qty) FROM corder WHERE customer_id = 5);
SELECT customer_id, (SELECT COUNT(*) FROM corder o WHERE o.customer_id = 9) AS n FROM customer WHERE customer_id = 9;
SELECT * FROM (SELECT customer_id, COUNT(*) AS n FROM corder WHERE customer_id = 5 GROUP BY customer_id) t;
SELECT * FROM (SELECT customer_id, name FROM customer WHERE customer_id = 7 ORDER BY customer_id LIMIT 5) t;
SELECT * FROM (SELECT order_id, qty FROM corder WHERE customer_id = 7 ORDER BY qty DESC, order_id LIMIT 2) t;
SELECT COUNT(*), SUM(t.qty) FROM (SELECT qty FROM corder WHERE customer_id = 9 ORDER BY order_id LIMIT 3) t;
SELECT * FROM corder WHERE customer_id = 1 AND product_id IN (SELECT product_id FROM corder WHERE customer_id = 2);
SELECT * FROM corder WHERE customer_id = 5 AND order_id NOT IN (SELECT order_id FROM corder WHERE customer_id = 9);
-- args: [5, 5]
SELECT c.customer_id FROM customer c WHERE c.customer_id = ? AND NOT EXISTS (SELECT 1 FROM corder o WHERE o.customer_id = ? AND o.qty > 100);
-- args: [1, 2]
SELECT c.name, (SELECT MAX(qty) FROM corder o WHERE o.customer_id = ?) AS m FROM customer c WHERE c.customer_id = ?;
SELECT c.name, p.amount FROM customer c JOIN payment p ON p.payment_id = c.customer_id WHERE c.customer_id = 5;
SELECT c.customer_id, k.name FROM customer c JOIN country k ON k.code = c.country_code WHERE c.customer_id = 5 AND EXISTS (SELECT 1 FROM corder o WHERE o.customer_id = 5 AND o.qty > 1);
WITH t AS (SELECT * FROM corder WHERE customer_id = 5) SELECT t.order_id, c.name FROM t JOIN customer c ON c.customer_id = t.customer_id;
SELECT name FROM customer WHERE customer_id = 5 UNION SELECT status FROM corder WHERE customer_id = 5;
SELECT COUNT(*) FROM (SELECT customer_id FROM customer WHERE customer_id = 7 UNION SELECT customer_id FROM corder WHERE customer_id = 7) t;
SELECT c.customer_id, o.order_id FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id AND o.qty > 3 WHERE c.customer_id = 9;
-- keys: 1
SELECT o.order_id, ROW_NUMBER() OVER (ORDER BY o.order_id) AS rn FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE c.customer_id = 5 ORDER BY o.order_id;
# Not pinned (values on different shards, a table without a pinning
# equality, a pin only in the ON of the side a LEFT JOIN keeps): the usual
# plan, or its refusal.
-- refuse-ok
SELECT * FROM corder WHERE customer_id = 5 AND order_id IN (SELECT order_id FROM corder WHERE customer_id = 6);
-- refuse-ok
SELECT * FROM corder o WHERE o.customer_id = 5 AND EXISTS (SELECT 1 FROM customer c WHERE c.name LIKE 'a%');
-- refuse-ok
SELECT c.customer_id, (SELECT COUNT(*) FROM payment p WHERE p.customer_id = c.customer_id) AS n FROM customer c WHERE c.customer_id = 5;
-- refuse-ok
SELECT c.customer_id, o.order_id FROM customer c LEFT JOIN corder o ON o.customer_id = 5 AND c.customer_id = 5;
SELECT * FROM (SELECT * FROM corder WHERE customer_id = 5) d JOIN customer c ON c.customer_id = d.customer_id WHERE c.customer_id = 6;
SELECT name FROM customer WHERE customer_id = 5 UNION SELECT status FROM corder WHERE customer_id = 6;
# b. ORDER BY aggregates and expressions over them, with HAVING, across shards.
-- keys: 2
SELECT country_code, COUNT(*) FROM customer GROUP BY country_code ORDER BY COUNT(*) DESC;
-- keys: 2
SELECT status, SUM(qty)+1 FROM corder GROUP BY status ORDER BY SUM(qty)+1;
-- unordered
SELECT status FROM corder GROUP BY status ORDER BY SUM(qty)+1;
-- keys: 2
SELECT country_code, COUNT(*) AS n FROM customer GROUP BY country_code HAVING COUNT(*) > 5 ORDER BY n DESC;
-- keys: 2
SELECT country_code, COUNT(*) AS n FROM customer GROUP BY country_code HAVING SUM(score) > 100 ORDER BY COUNT(*) DESC, MAX(score);
-- unordered
SELECT country_code FROM customer GROUP BY country_code HAVING COUNT(*) > 3 ORDER BY SUM(balance) / COUNT(*) DESC;
-- keys: 2
SELECT status, AVG(qty) FROM corder GROUP BY status ORDER BY AVG(qty) * -1 LIMIT 3;
-- keys: 1
SELECT COUNT(*) AS n FROM corder GROUP BY customer_id HAVING n > 5 ORDER BY n, SUM(qty) DESC LIMIT 5;
-- ordered
SELECT customer_id, COUNT(*) FROM corder GROUP BY customer_id ORDER BY SUM(qty) - COUNT(*) DESC, customer_id LIMIT 7;
# c. ORDER BY columns not selected, on cross-shard joins (hidden columns).
-- unordered
SELECT c.name, o.order_id FROM customer c JOIN payment p ON p.customer_id = c.customer_id JOIN corder o ON o.order_id = p.order_id ORDER BY p.amount, o.order_id;
-- ordered
SELECT o.order_id FROM payment p JOIN corder o ON o.order_id = p.order_id ORDER BY p.payment_id;
-- keys: 2
SELECT o.order_id, c.name FROM payment p JOIN corder o ON o.order_id = p.order_id JOIN customer c ON c.customer_id = o.customer_id WHERE p.amount > 500 ORDER BY c.name, p.payment_id LIMIT 10;
-- ordered
SELECT p.payment_id FROM payment p LEFT JOIN corder o ON o.order_id = p.order_id ORDER BY o.qty DESC, p.payment_id;
# d. RIGHT JOIN across shards: the LEFT JOIN with the sides swapped, columns
# in the order written.
SELECT p.payment_id, c.name FROM payment p RIGHT JOIN customer c ON c.customer_id = p.customer_id;
SELECT * FROM payment p RIGHT JOIN customer c ON c.customer_id = p.customer_id WHERE c.customer_id < 20;
SELECT p.payment_id, o.order_id FROM payment p RIGHT JOIN corder o ON o.order_id = p.order_id WHERE o.qty > 10;
-- ordered
SELECT c.customer_id, p.payment_id FROM payment p RIGHT JOIN customer c ON c.customer_id = p.customer_id ORDER BY c.customer_id, p.payment_id LIMIT 20;
SELECT c.name, p.amount, k.name FROM payment p RIGHT JOIN customer c ON c.customer_id = p.customer_id JOIN country k ON k.code = c.country_code WHERE c.customer_id < 40;
SELECT c.country_code, COUNT(p.payment_id) FROM payment p RIGHT JOIN customer c ON c.customer_id = p.customer_id GROUP BY c.country_code;
-- refuse-ok
SELECT o.order_id, p.payment_id FROM customer c JOIN corder o ON o.customer_id = c.customer_id RIGHT JOIN payment p ON p.order_id = o.order_id;
# e. Window functions and WITH ROLLUP where one shard answers them.
-- keys: 1
SELECT order_id, ROW_NUMBER() OVER (ORDER BY order_id) FROM corder WHERE customer_id = 5 ORDER BY order_id;
SELECT order_id, SUM(qty) OVER (PARTITION BY status) AS s, RANK() OVER (ORDER BY qty DESC) AS r FROM corder WHERE customer_id = 9;
SELECT status, COUNT(*) FROM corder WHERE customer_id = 5 GROUP BY status WITH ROLLUP;
SELECT category, COUNT(*) FROM commerce.product GROUP BY category WITH ROLLUP;
SELECT product_id, RANK() OVER (PARTITION BY category ORDER BY price) FROM commerce.product;
-- refuse-ok
SELECT order_id, SUM(qty) OVER (PARTITION BY customer_id) FROM corder;
-- refuse-ok
SELECT status, COUNT(*) FROM corder GROUP BY status WITH ROLLUP;
