#!/usr/bin/env bash
# Builds conf/demo/shop.db (100,000 products, 10,000 users) with Debian's sqlite3, unless it
# exists already. The file is written under a temporary name and renamed, so a half-built
# database is never served.
set -euo pipefail
cd "$(dirname "$0")"
if [ -s shop.db ]; then exit 0; fi
rm -f shop.db.tmp
sqlite3 shop.db.tmp < shop.sql > /dev/null
mv shop.db.tmp shop.db
echo "built $(pwd)/shop.db: $(sqlite3 shop.db 'SELECT count(*) FROM products') products, $(sqlite3 shop.db 'SELECT count(*) FROM users') users"
