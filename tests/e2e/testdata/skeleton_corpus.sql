# Differential corpus for the skeleton (issue 3): every statement runs through
# shardgate (keyspaces customer = 2 shards, commerce = global) and against one
# plain MariaDB holding the same data in databases `customer` and `commerce`;
# result sets must be equal (as multisets of rows, or in order with
# "-- ordered"), DML must report the same affected-row counts.
#
# Format: a statement ends with ';' at the end of a line. Lines starting with
# '#' are comments. Lines starting with '-- ' just before a statement are
# directives for it:
#   -- ordered          compare rows in order (single-shard/global/reference
#                       queries with ORDER BY)
#   -- args: [json]     bind these parameters ('?'), e.g. -- args: [1, "x", null]
#                       (JSON numbers without a fraction bind as int64, with one
#                       as float64)
#   -- setup            setup statement (DDL, load): not counted in the 40+
# The session starts in keyspace `customer`; USE changes it on both sides.

# ---------------------------------------------------------------- setup
-- setup
DROP TABLE IF EXISTS corder;
-- setup
DROP TABLE IF EXISTS customer;
-- setup
DROP TABLE IF EXISTS country;
-- setup
DROP TABLE IF EXISTS commerce.product;
-- setup
CREATE TABLE customer (
  customer_id BIGINT NOT NULL PRIMARY KEY,
  name VARCHAR(100) NOT NULL,
  email VARCHAR(100) NULL,
  country_code CHAR(2) NULL,
  balance DECIMAL(12,2) NOT NULL DEFAULT 0,
  note TEXT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- setup
CREATE TABLE corder (
  order_id BIGINT NOT NULL PRIMARY KEY,
  customer_id BIGINT NOT NULL,
  sku VARCHAR(32) NOT NULL,
  qty INT NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  KEY by_customer (customer_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- setup
CREATE TABLE country (code CHAR(2) NOT NULL PRIMARY KEY, name VARCHAR(64) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- setup
CREATE TABLE commerce.product (sku VARCHAR(32) NOT NULL PRIMARY KEY, description VARCHAR(100) NULL, price DECIMAL(10,2) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- setup
INSERT INTO country (code, name) VALUES ('FR', 'France'), ('DE', 'Germany'), ('JP', 'Japan'), ('US', 'United States'), ('CI', 'Côte d''Ivoire');
-- setup
INSERT INTO customer (customer_id, name, email, country_code, balance, note) VALUES
  (1, 'Alice', 'alice@example.com', 'FR', 10.50, NULL),
  (2, 'Bob', NULL, 'DE', 0, 'likes ''quotes'' and "double" ones'),
  (3, 'Chloé', 'chloe@example.fr', 'FR', 250.00, 'café ☕'),
  (4, 'Dmitri', 'dmitri@example.com', NULL, 99.99, 'NULL'),
  (5, 'O''Brien', 'ob@example.ie', 'US', 5.00, 'emoji 😀 inside'),
  (6, 'Fumiko', 'fumiko@example.jp', 'JP', 1200.00, '日本語のメモ'),
  (7, 'Gus', NULL, 'US', 42.00, ''),
  (8, 'Hana', 'hana@example.jp', 'JP', 0.01, 'tab	and back\\slash'),
  (9, 'Ivan', 'ivan@example.com', 'DE', 300.00, NULL),
  (10, 'Jade', 'jade@example.com', 'CI', 15.75, 'percent % and underscore _');
-- setup
INSERT INTO customer (customer_id, name, email, country_code, balance) VALUES (11, 'Kim', 'kim@example.com', 'US', 77.70);
-- setup
INSERT INTO customer (customer_id, name, email, country_code, balance) VALUES (12, 'Lou', NULL, 'FR', 12.00), (13, 'Mia', 'mia@example.com', 'DE', 130.00), (14, 'Ned', 'ned@example.com', NULL, 0);
-- setup
INSERT INTO corder (order_id, customer_id, sku, qty, price) VALUES
  (1001, 1, 'A-100', 1, 9.99), (1002, 1, 'B-200', 2, 19.50), (1003, 1, 'A-100', 5, 9.99),
  (1004, 2, 'C-300', 1, 100.00), (1005, 3, 'A-100', 3, 9.99), (1006, 3, 'D-400', 10, 1.25),
  (1007, 5, 'B-200', 1, 19.50), (1008, 6, 'E-500', 7, 3.30), (1009, 9, 'A-100', 2, 9.99),
  (1010, 13, 'C-300', 4, 100.00), (1011, 13, 'D-400', 6, 1.25);
-- setup
INSERT INTO commerce.product (sku, description, price) VALUES ('A-100', 'widget', 9.99), ('B-200', 'gadget "pro"', 19.50), ('C-300', NULL, 100.00), ('D-400', 'bolt', 1.25), ('E-500', 'gizmo 😀', 3.30);

# ---------------------------------------------------------------- routed by =
SELECT * FROM customer WHERE customer_id = 1;
SELECT name, email FROM customer WHERE customer_id = 2;
SELECT customer_id, name, note FROM customer WHERE 5 = customer_id;
SELECT customer_id, name FROM customer WHERE customer_id = 6 AND balance > 100;
SELECT * FROM customer WHERE customer_id = 999;
-- args: [3]
SELECT * FROM customer WHERE customer_id = ?;
-- args: ["7"]
SELECT customer_id, name, email FROM customer WHERE customer_id = ?;
-- args: [8, 0]
SELECT customer_id, note FROM customer WHERE customer_id = ? AND balance > ?;
-- ordered
SELECT order_id, sku, qty FROM corder WHERE customer_id = 1 ORDER BY order_id;
-- ordered
SELECT order_id FROM corder WHERE customer_id = 1 ORDER BY order_id DESC LIMIT 2;
SELECT COUNT(*), SUM(qty), MAX(price) FROM corder WHERE customer_id = 1;
-- ordered
-- args: [13]
SELECT sku, qty FROM corder WHERE customer_id = ? ORDER BY sku;

# ---------------------------------------------------------------- routed by IN
SELECT customer_id, name FROM customer WHERE customer_id IN (1, 2, 3, 4, 5, 6);
SELECT * FROM customer WHERE customer_id IN (9);
SELECT customer_id FROM customer WHERE customer_id IN (1, 1, 2, 1000);
SELECT order_id, customer_id, qty FROM corder WHERE customer_id IN (2, 3, 13) AND qty > 1;
-- args: [1, 8, 13]
SELECT customer_id, name, balance FROM customer WHERE customer_id IN (?, ?, ?);
-- args: [10, 11, 12, 14, 15]
SELECT customer_id, email FROM customer WHERE customer_id IN (?, ?, ?, ?, ?);

# ---------------------------------------------------------------- scatter
SELECT * FROM customer;
SELECT customer_id, name FROM customer WHERE balance > 20;
SELECT customer_id, email FROM customer WHERE email IS NULL;
SELECT customer_id, name FROM customer WHERE name LIKE '%''%';
SELECT customer_id, note FROM customer WHERE note LIKE '%😀%';
SELECT customer_id, UPPER(name), balance * 2, CHAR_LENGTH(note) FROM customer;
SELECT customer_id FROM customer WHERE customer_id NOT IN (1, 2, 3);
SELECT c.customer_id, c.name FROM customer AS c WHERE c.country_code = 'FR';
-- args: ["O'Brien"]
SELECT customer_id, name FROM customer WHERE name = ?;
SELECT order_id, price * qty FROM corder WHERE sku = 'A-100';
SELECT * FROM corder;

# ---------------------------------------------------------------- reference table
SELECT * FROM country;
-- ordered
SELECT code, name FROM country ORDER BY code;
SELECT name FROM country WHERE code = 'CI';
SELECT c.name, co.name FROM customer c JOIN country co ON c.country_code = co.code WHERE c.customer_id = 1;
SELECT c.customer_id, co.name FROM customer c JOIN country co ON co.code = c.country_code;

# ---------------------------------------------------------------- co-located joins
SELECT c.name, o.order_id, o.sku FROM customer c JOIN corder o ON c.customer_id = o.customer_id WHERE c.customer_id = 1;
SELECT c.name, o.order_id FROM customer c JOIN corder o ON c.customer_id = o.customer_id;
SELECT c.customer_id, o.order_id FROM customer c LEFT JOIN corder o ON o.customer_id = c.customer_id;
-- args: [13]
SELECT c.name, o.sku, o.qty FROM customer c JOIN corder o ON o.customer_id = c.customer_id WHERE o.customer_id = ?;
SELECT c.name, o.qty FROM customer c, corder o WHERE c.customer_id = o.customer_id AND c.customer_id IN (1, 3, 5);

# ---------------------------------------------------------------- global keyspace
SELECT * FROM commerce.product;
-- ordered
SELECT sku, price FROM commerce.product ORDER BY price DESC, sku LIMIT 3;
SELECT COUNT(*), SUM(price) FROM commerce.product;
-- args: ["B-200"]
SELECT description FROM commerce.product WHERE sku = ?;
USE commerce;
SELECT DATABASE();
SELECT sku, description FROM product WHERE description IS NULL;
INSERT INTO product (sku, description, price) VALUES ('Z-1', 'zeta 😀', 1.00), ('Z-2', 'it''s', 2.00);
UPDATE product SET price = price + 1 WHERE sku LIKE 'A%' OR sku LIKE 'Z%';
DELETE FROM product WHERE sku = 'Z-2';
SELECT * FROM product;
-- ordered
SELECT sku FROM product ORDER BY sku;
USE customer;
SELECT DATABASE();

# ---------------------------------------------------------------- no table
SELECT 1, 'a''b', NULL, 'NULL', 3.14, -7;
SELECT @@version_comment;
SELECT @@version, @@version_comment, DATABASE();
SELECT CONCAT('x', '😀'), CHAR_LENGTH('😀'), HEX('é'), 'back\\slash';
SELECT @@autocommit;

# ---------------------------------------------------------------- DML routed and scattered
UPDATE customer SET balance = balance + 5 WHERE customer_id = 1;
SELECT customer_id, balance FROM customer WHERE customer_id = 1;
-- args: ["7.25", 2]
UPDATE customer SET balance = ? WHERE customer_id = ?;
SELECT customer_id, balance FROM customer WHERE customer_id = 2;
UPDATE customer SET note = 'rich' WHERE balance > 100;
SELECT customer_id, note FROM customer;
UPDATE customer SET email = NULL WHERE customer_id IN (3, 4, 5);
UPDATE customer SET name = name WHERE customer_id = 6;
UPDATE customer SET country_code = country_code;
SELECT customer_id, email, country_code FROM customer;
DELETE FROM corder WHERE customer_id = 2;
DELETE FROM corder WHERE qty > 4;
-- args: [1001]
DELETE FROM corder WHERE order_id = ?;
# Multi-table DELETEs over tables joined on the sharding column: each shard
# deletes its own rows (the targets name FROM tables by alias or name).
DELETE o FROM corder o JOIN customer c ON c.customer_id = o.customer_id WHERE c.country_code = 'US' AND o.qty = 1;
DELETE corder FROM corder JOIN customer ON customer.customer_id = corder.customer_id WHERE customer.customer_id = 9;
SELECT * FROM corder;
INSERT INTO customer (customer_id, name, email, country_code, balance, note) VALUES
  (100, 'Pia', 'pia@example.com', 'FR', 1.00, 'multi 1'),
  (101, 'Quinn', NULL, 'US', 2.00, 'multi ''2'''),
  (102, 'Rosa', 'rosa@example.com', 'DE', 3.00, NULL),
  (103, 'Sven', 'sven@example.com', 'JP', 4.00, '😀😀'),
  (104, 'Tom', 'tom@example.com', 'CI', 5.00, 'multi\\5');
-- args: [2001, 100, "A-100", 1, "9.99", 2002, 101, "B-200", 2, "19.50", 2003, 102, "C-300", 3, "100.00", 2004, 103, "D-400", 4, "1.25"]
INSERT INTO corder (order_id, customer_id, sku, qty, price) VALUES (?, ?, ?, ?, ?), (?, ?, ?, ?, ?), (?, ?, ?, ?, ?), (?, ?, ?, ?, ?);
-- args: [105, "Uma", null, "FR", "6.50", "😀 via param"]
INSERT INTO customer (customer_id, name, email, country_code, balance, note) VALUES (?, ?, ?, ?, ?, ?);
SELECT * FROM customer WHERE customer_id >= 100;
SELECT c.customer_id, o.order_id, o.sku FROM customer c JOIN corder o ON c.customer_id = o.customer_id WHERE c.customer_id >= 100;
DELETE FROM customer WHERE customer_id IN (100, 101, 102);
DELETE FROM customer WHERE name = 'nobody';
UPDATE corder SET qty = qty * 10 WHERE customer_id IN (103, 13);
SELECT * FROM customer;
SELECT * FROM corder;
INSERT INTO country (code, name) VALUES ('ES', 'España');
UPDATE country SET name = 'Deutschland' WHERE code = 'DE';
SELECT * FROM country;
SELECT c.customer_id, co.name FROM customer c JOIN country co ON co.code = c.country_code WHERE c.customer_id IN (9, 13);

# ---------------------------------------------------------------- spelling variants
SELECT `customer_id`, `name` FROM `customer` WHERE `customer_id` = 3;
select customer_id, NAME from customer where Customer_ID = 4;
SELECT * FROM customer.customer WHERE customer_id = 6;
SELECT c.customer_id, c.balance FROM customer.customer AS c WHERE c.customer_id IN (6, 9, 13);
SELECT customer_id FROM customer.customer WHERE balance < 50;
/* leading comment */ SELECT name FROM customer WHERE customer_id = 9;
SELECT name FROM customer WHERE customer_id = 10 -- trailing comment
;
SELECT name FROM customer WHERE customer_id = '11';
SELECT name FROM customer WHERE (customer_id = 12);
SELECT name FROM customer WHERE customer_id = 1 OR customer_id = 13;
SELECT customer_id FROM customer WHERE customer_id IN (1, 13) AND customer_id = 13;
SELECT 1 FROM dual;
SELECT LAST_INSERT_ID();
SELECT customer_id FROM customer WHERE balance > 100 LOCK IN SHARE MODE;
SELECT customer_id FROM customer.customer WHERE customer_id = 3 LOCK IN SHARE MODE;
SELECT customer_id FROM customer WHERE customer_id IN (1, 13) LOCK IN SHARE MODE;
SELECT customer_id FROM customer WHERE customer_id = 6 FOR UPDATE;
SELECT COUNT(*), customer_id FROM customer.corder WHERE customer_id = 1 GROUP BY customer_id;
SELECT customer_id, @@autocommit, DATABASE() FROM customer.customer WHERE customer_id = 1;
SELECT customer_id FROM customer.customer WHERE note = 'tab\tand back\\slash';
SELECT customer_id, note FROM customer WHERE customer_id IN (2, 8, 10) AND note <> 'it''s \\ "x"';
SELECT name FROM country WHERE code = 'FR' UNION ALL SELECT name FROM country WHERE code = 'DE';
SHOW COLUMNS FROM customer;
DESCRIBE corder;
SHOW CREATE TABLE customer;

# ---------------------------------------------------------------- user variables, SET NAMES
SET @x = 5;
SELECT @x;
SELECT customer_id, name FROM customer WHERE customer_id = @x;
SET @s = 'O''Brien', @n = NULL;
SELECT @s, @n, @undefined;
SELECT customer_id FROM customer WHERE name = @s;
SET NAMES utf8mb4;
SELECT 'é😀', customer_id FROM customer WHERE customer_id = 5;

# ---------------------------------------------------------------- more INSERT shapes
INSERT INTO customer (name, customer_id, balance) VALUES ('Reordered A', 200, 1.5), ('Reordered B', 201, 2.5), ('Reordered C', 202, 3.5);
INSERT INTO customer VALUES (203, 'No column list', NULL, 'JP', 7.00, 'x');
INSERT INTO customer (customer_id, name) VALUES ('204', 'string key');
INSERT INTO commerce.product (sku, description, price) VALUES ('Q-1', 'qualified', 4.00);
SELECT * FROM customer WHERE customer_id >= 200;
SELECT * FROM commerce.product WHERE sku = 'Q-1';
UPDATE customer SET balance = balance * 2 WHERE customer_id IN (200, 201, 202, 203);
DELETE FROM corder WHERE customer_id = 13 ORDER BY order_id LIMIT 1;
SELECT * FROM customer WHERE customer_id >= 200;
SELECT order_id FROM corder WHERE customer_id = 13;

# ---------------------------------------------------------------- negative sharding keys
INSERT INTO customer (customer_id, name, email, country_code, balance, note) VALUES (-3, 'Negative', 'neg@example.com', 'FR', 3.00, 'negative id');
INSERT INTO corder (order_id, customer_id, sku, qty, price) VALUES (1012, -3, 'A-100', 1, 9.99), (1013, -3, 'B-200', 2, 19.50);
SELECT * FROM customer WHERE customer_id = -3;
-- args: [-3]
SELECT order_id, sku FROM corder WHERE customer_id = ?;
SELECT customer_id, name FROM customer WHERE customer_id IN (-3, 1);
