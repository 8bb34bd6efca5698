-- The demo source of truth: a small shop. Built by conf/demo/build-demo-db.sh into shop.db.
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
BEGIN;
CREATE TABLE products (
  id          INTEGER PRIMARY KEY,
  name        TEXT    NOT NULL,
  category    TEXT    NOT NULL,
  price_cents INTEGER NOT NULL,
  stock       INTEGER NOT NULL
);
CREATE TABLE users (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL,
  email      TEXT NOT NULL,
  country    TEXT NOT NULL,
  created_at TEXT NOT NULL
);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
INSERT INTO products (id, name, category, price_cents, stock)
SELECT i,
       'Product ' || i,
       CASE i % 6 WHEN 0 THEN 'books' WHEN 1 THEN 'garden' WHEN 2 THEN 'kitchen'
                  WHEN 3 THEN 'music' WHEN 4 THEN 'outdoors' ELSE 'toys' END,
       199 + (i * 7919) % 99800,
       (i * 31) % 500
FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO users (id, name, email, country, created_at)
SELECT i,
       'User ' || i,
       'user' || i || '@example.com',
       CASE i % 5 WHEN 0 THEN 'DE' WHEN 1 THEN 'FR' WHEN 2 THEN 'JP' WHEN 3 THEN 'US' ELSE 'BR' END,
       date('2024-01-01', '+' || (i % 700) || ' days')
FROM n;
COMMIT;
