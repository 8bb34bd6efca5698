// The PostgreSQL source (DESIGN.md sections 5-7), made by MakePostgresSource() in source.h:
//
//   source NAME postgresql://user[:password]@host:port/db [pool N] [notify-channel CHANNEL]
//
// Contract, beyond Source's (source.h):
//   - One thread runs a libuv loop over libpq's asynchronous API. Up to `pool` connections
//     (default 4) each run one query at a time; loads queue while all are busy, and queued loads
//     time out like running ones. Load() only posts to that thread's mailbox.
//   - Queries name their parameters (`:id`, see sql_params.h); every name must be a capture of the
//     loader's key template. Values are bound as text parameters, never spliced into SQL. Each
//     connection prepares a query once, on first use, and reads its parameter types.
//   - Outcomes: string shape, the first column of the first row (no row or NULL: not found); hash
//     shape, the first row's non-NULL columns as (column name, text value) fields (no row: not
//     found). A data exception (SQLSTATE class 22, e.g. 'abc' for an integer) is not found.
//   - A batch of several keys is one query (DeriveBatchQuery below). If it raises a data exception,
//     the keys are run one by one so that one bad key does not fail the others.
//   - The loader's batch-query text, when given, replaces the derived batch query. Its contract:
//     it uses the same `:name` parameters, each bound to a text-format array literal holding that
//     capture's values in batch order (so cast it: `:id::int[]`); its first column is the 1-based
//     position of the key in the batch (WITH ORDINALITY gives it); the other columns are read as
//     the single-key query's columns. The first row of a position wins; a missing position is not
//     found. Example: SELECT k.ord, p.name FROM unnest(:id::int[]) WITH ORDINALITY AS k(id, ord)
//                     JOIN products p ON p.id = k.id
//   - A load that outlives its query's timeout completes with timed_out; a running query is then
//     cancelled (PQcancel, sent from a helper thread because it blocks) and its connection replaced.
//   - A statement the server no longer accepts after a schema change ("cached plan must not change
//     result type") is prepared again, once per load.
//   - While no connection is up, loads fail at once with libpq's reason (e.g. "... Connection
//     refused", never the password). Connections retry with backoff (100 ms doubling to 5 s), so a
//     database that comes up later serves loads without a restart. (libpq resolves a host name
//     synchronously when a connection starts; that wait is on the source thread, never a caller's.)
//   - notify-channel: a dedicated connection LISTENs on CHANNEL (an identifier quoted as given, so
//     it is case-sensitive, as pg_notify's channel argument), again after every reconnect, and
//     passes each NOTIFY payload to the invalidation handler on the source thread. Set the handler
//     before Start().
//   - `done` runs on the source thread and must not call Stop(). Stop() completes pending loads with
//     "source stopped", cancels running queries, closes connections and joins the thread. Loads
//     after Stop() complete at once, on the caller's thread, with the same error.
//   - Describe() is the URL with its password (user:PASSWORD@ or ?password=) replaced by ***.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace strata::loaders {

// The URL with any password, in the user info or as a `password` query parameter, made ***.
std::string RedactPostgresUrl(std::string_view url);

// A PostgreSQL array literal in text form. Every element is double-quoted with `"` and `\`
// backslash-escaped, so an element reading NULL, or holding commas or braces, stays a string.
std::string PostgresTextArray(const std::vector<std::string_view>& elements);

// The batch form of a single-key query written with `:name` parameters. Parameter i (in the order
// RewriteNamedParameters gives) arrives as array $i of type parameter_types[i] (a type name as
// format_type prints it). The result has one row per key, in batch order: the key's 1-based
// position, then the columns of the single-key query's first row (all NULL when it has none):
//
//   SELECT strata_keys.ord, strata_row.*
//   FROM unnest($1::integer[]) WITH ORDINALITY AS strata_keys(p1, ord)
//   LEFT JOIN LATERAL (SELECT * FROM (<query, :id now strata_keys.p1>) AS strata_single LIMIT 1)
//     AS strata_row ON true
//   ORDER BY strata_keys.ord
//
// Fails (and the keys are then loaded one by one) when the query has no parameter or a parameter
// is itself an array, which unnest would flatten.
absl::StatusOr<std::string> DeriveBatchQuery(std::string_view query, const std::vector<std::string>& parameter_types);

}  // namespace strata::loaders
