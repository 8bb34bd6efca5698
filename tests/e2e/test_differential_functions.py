"""Differential tests for Redis 7 functions: strata must answer FUNCTION LOAD/DELETE/FLUSH/LIST/
DUMP/RESTORE/STATS/KILL/HELP, FCALL and FCALL_RO exactly as Redis 7.0 does.

Every case runs over RESP2 and over RESP3 and compares each reply byte for byte with Debian's
redis-server 7.0.15 (error texts, the function name and line inside them, null kinds and RESP3
types included):
  load          both forms of redis.register_function (positional, and the table with
                function_name/callback/flags/description), every error FUNCTION LOAD can give
                (metadata, engine, names, compile errors, errors raised while the library's
                top level runs, the load-time sandbox, registration errors, collisions, REPLACE)
  calls         FCALL and FCALL_RO: flags, numkeys, KEYS/ARGV as tables, every conversion from a
                Lua value to a reply, errors raised inside functions ("script: <name>, on
                @user_function:<line>."), commands refused inside functions, MULTI
  management    DELETE, FLUSH, LIST (LIBRARYNAME pattern, WITHCODE), STATS, HELP, KILL
  dump/restore  FUNCTION DUMP's payload is strata's own format, so payloads are never compared:
                each server restores its own dump, and what RESTORE answers is compared
And, on strata alone: DUMP, FLUSH, RESTORE gives the same FUNCTION LIST back, with every restore
policy, and functions are one set for all connections on all I/O threads.

What is relaxed, and why (everything else states Redis's behaviour):
  - FUNCTION LIST: the order of libraries, and of functions inside a library, is a hash-table
    detail; both are compared as sets (libraries keyed by library_name, functions by name).
    Every reply type inside is still compared exactly.
  - HELLO's reply holds the client id: compared by shape.
  - Functions touch only the keys they declare in KEYS: strata refuses others unless
    lua-allow-undeclared-keys is yes, a documented difference.
  - Two functions in one library whose names differ only in case: Redis registers both in the
    library and only one in its (case-insensitive) function table, an inconsistency with no
    behaviour to state.
A failing case lists every step that differs, not only the first.
"""
import itertools
import time

import pytest

from helpers import Reply, RespConnection, server_pair  # noqa: F401  (server_pair is a fixture)
from test_differential import Differ, Mismatch, Op, compare, differential_session, fmt
from test_differential_scripting import differences, run_all


# Stands for "this server's own FUNCTION DUMP payload" in a step (see FunctionDiffer).
PAYLOAD = b"<the payload this server's last FUNCTION DUMP returned>"
# The same payload with one byte of the library code flipped: a checksum must catch it.
CORRUPT_PAYLOAD = b"<that payload with one byte of the code flipped>"
# The same payload without its last byte.
TRUNCATED_PAYLOAD = b"<that payload without its last byte>"


# ---------------------------------------------------------------------------------------------
# Comparing FUNCTION LIST as sets

def pairs_of(entry):
    """The (name, value) pairs of a RESP2 flat array or a RESP3 map."""
    if entry.kind == "%":
        return list(entry.value)
    if entry.kind == "*" and entry.value is not None and len(entry.value) % 2 == 0:
        return list(zip(entry.value[::2], entry.value[1::2]))
    return None


def rebuilt(entry, pairs):
    if entry.kind == "%":
        return Reply("%", pairs)
    return Reply("*", [x for pair in pairs for x in pair])


def field(pairs, name):
    for key, value in pairs:
        if key.value == name:
            return value
    return None


def sorted_entries(entries, name):
    """Entries (libraries or functions) sorted by the value of their field `name`."""
    def sort_key(entry):
        pairs = pairs_of(entry)
        value = field(pairs, name) if pairs else None
        return value.value if value is not None and isinstance(value.value, bytes) else b""
    return sorted(entries, key=sort_key)


def canonical_function_list(reply):
    """FUNCTION LIST with libraries sorted by library_name and each library's functions sorted
    by name; everything else (reply types, field order, flags order) as the server sent it."""
    if reply.kind != "*" or reply.value is None:
        return reply
    libraries = []
    for library in reply.value:
        pairs = pairs_of(library)
        if pairs is None:
            return reply
        functions = field(pairs, b"functions")
        if functions is not None and functions.kind == "*" and functions.value is not None:
            sorted_functions = Reply("*", sorted_entries(functions.value, b"name"))
            pairs = [(k, sorted_functions if k.value == b"functions" else v) for k, v in pairs]
        libraries.append(rebuilt(library, pairs))
    return Reply("*", sorted_entries(libraries, b"library_name"))


class FunctionDiffer(Differ):
    """A Differ for this file: FUNCTION LIST compared as sets ("list"), HELLO by shape, and
    steps that carry each server's own FUNCTION DUMP payload ("dump" takes one)."""

    def __init__(self, strata_conn, redis_conn, label, rerun):
        super().__init__(strata_conn, redis_conn, label, rerun)
        self.payloads = {}  # "s" / "r" -> the bytes of that server's last FUNCTION DUMP

    def own_args(self, side, args):
        payload = self.payloads.get(side, b"")
        middle = len(payload) - 20  # inside the last library's code in both formats
        corrupt = payload[:middle] + bytes([payload[middle] ^ 0x01]) + payload[middle + 1:] if middle > 0 else payload
        substitute = {PAYLOAD: payload, CORRUPT_PAYLOAD: corrupt, TRUNCATED_PAYLOAD: payload[:-1]}
        return [substitute.get(a, a) for a in args]

    def run(self, op):
        s_reply = self.s.call(*self.own_args("s", op.args))
        r_reply = self.r.call(*self.own_args("r", op.args))
        if op.compare == "dump":
            # The payloads are each server's own format: kept, never compared.
            problem = None if s_reply.kind == r_reply.kind == "$" else "FUNCTION DUMP did not answer a bulk string"
            if not problem:
                self.payloads = {"s": s_reply.value, "r": r_reply.value}
                s_reply = r_reply = Reply("+", b"(a payload)")
        elif op.compare == "list":
            s_reply, r_reply = canonical_function_list(s_reply), canonical_function_list(r_reply)
            problem = None if s_reply == r_reply else "FUNCTION LIST differs (compared as sets of libraries)"
        else:
            problem = compare(op, s_reply, r_reply)
        if problem:
            raise Mismatch(self.describe(op, s_reply, r_reply, problem))
        self.history.append((self.index, op, s_reply, r_reply))
        del self.history[:-8]
        self.index += 1


# ---------------------------------------------------------------------------------------------
# Steps

def C(*args, compare="exact"):
    """A command, compared exactly unless told."""
    return Op(args, "shape" if args and args[0] == "HELLO" else compare)


def LIB(name, body):
    """Library code with the usual metadata line."""
    return f"#!lua name={name}\n{body}"


def LOAD(code, *options):
    return Op(["FUNCTION", "LOAD", *options, code])


def LIST(*args):
    return Op(["FUNCTION", "LIST", *args], "list")


def FC(name, keys=(), args=(), command="FCALL"):
    return Op([command, name, len(keys), *keys, *args])


def RO(name, keys=(), args=()):
    return FC(name, keys, args, command="FCALL_RO")


DUMP = Op(["FUNCTION", "DUMP"], "dump")
FLUSH = C("FUNCTION", "FLUSH")
STATS = C("FUNCTION", "STATS")

REG = "redis.register_function"

# A library with both registration forms, a read-only function and a description.
SHOP = LIB("shop", "\n".join([
    f"{REG}('shop_set', function(keys, args) return redis.call('SET', keys[1], args[1]) end)",
    f"{REG}{{function_name='shop_get', callback=function(keys) return redis.call('GET', keys[1]) end,"
    " flags={'no-writes'}, description='reads one key'}",
    f"{REG}{{function_name='shop_incr', callback=function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end,"
    " description='adds'}",
]))


LIBRARY_NUMBERS = itertools.count(1)


def LOADS_NOTHING(body):
    """FUNCTION LOAD of a library that must fail, then proof that it left nothing behind. Each
    gets a name of its own, so that one a server wrongly accepts does not collide with the next."""
    name = f"bad{next(LIBRARY_NUMBERS)}"
    return [LOAD(LIB(name, body)), LIST("LIBRARYNAME", name)]


# A function body per line, so that "on @user_function:N" names a known line.
CONVERSIONS = LIB("conv", "\n".join([
    f"{REG}('c_int', function() return 3.99 end)",
    f"{REG}('c_neg', function() return -2.5 end)",
    f"{REG}('c_str', function() return 'x' end)",
    f"{REG}('c_bin', function(keys, args) return args[1] end)",
    f"{REG}('c_tab', function() return {{1, 'two', {{3, {{}}}}, true, false, nil, 9}} end)",
    f"{REG}('c_true', function() return true end)",
    f"{REG}('c_false', function() return false end)",
    f"{REG}('c_nil', function() return nil end)",
    f"{REG}('c_none', function() end)",
    f"{REG}('c_ok', function() return {{ok='fine'}} end)",
    f"{REG}('c_err', function() return {{err='bad thing'}} end)",
    f"{REG}('c_err_reply', function() return redis.error_reply('MY code') end)",
    f"{REG}('c_status_reply', function() return redis.status_reply('STATUSY') end)",
    f"{REG}('c_double', function() return {{double=1.5}} end)",
    f"{REG}('c_map', function() return {{map={{a=1}}}} end)",
    f"{REG}('c_set', function() return {{set={{x=true}}}} end)",
    f"{REG}('c_big', function() return {{big_number='123456789012345678901234567890'}} end)",
    f"{REG}('c_verbatim', function() return {{verbatim_string={{format='txt', string='hi'}}}} end)",
    f"{REG}('c_two', function() return 1, 2 end)",
    f"{REG}('c_resp3_map', function(keys) redis.setresp(3) return redis.call('HGETALL', keys[1]) end)",
    f"{REG}('c_resp3_null', function(keys) redis.setresp(3) return redis.call('GET', keys[1]) end)",
    f"{REG}('c_resp3_bool', function(keys) redis.setresp(3) return redis.call('EXISTS', keys[1]) == 1 end)",
    f"{REG}('c_resp3_double', function(keys) redis.setresp(3) return redis.call('ZSCORE', keys[1], 'm') end)",
    f"{REG}('c_resp2_map', function(keys) return redis.call('HGETALL', keys[1]) end)",
    f"{REG}('c_keys_args', function(keys, args) return {{#keys, #args, keys[1], args[1], type(keys), type(args)}} end)",
    f"{REG}('c_keys_writable', function(keys) keys[1] = 'changed' return keys end)",
    f"{REG}('c_args_all', function(keys, args) return args end)",
]))

# Errors raised inside functions; the line numbers are part of the reply.
ERRORS = LIB("errs", "\n".join([
    f"{REG}('e_error', function() error('boom') end)",                                    # line 2
    f"{REG}('e_error_level0', function() error('boom', 0) end)",
    f"{REG}('e_error_table', function() error({{err='MY custom'}}) end)",
    "",
    f"{REG}('e_nil_index', function()",                                                 # line 6
    "  local x = nil",
    "  return x.y",                                                                       # line 8
    "end)",
    f"{REG}('e_wrongtype', function(keys) return redis.call('INCR', keys[1]) end)",    # line 10
    f"{REG}('e_unknown_command', function() return redis.call('NOSUCHCMD') end)",
    f"{REG}('e_pcall', function(keys) return redis.pcall('INCR', keys[1]) end)",
    f"{REG}('e_set_global', function() x = 1 end)",
    f"{REG}('e_read_global', function() return undefined_global end)",
    f"{REG}('e_arity', function(keys) return redis.call('GET') end)",
    f"{REG}('e_multi', function() return redis.call('MULTI') end)",
    f"{REG}('e_fcall', function() return redis.call('FCALL', 'e_error', 0) end)",
    f"{REG}('e_function', function() return redis.call('FUNCTION', 'LIST') end)",
    f"{REG}('e_eval', function() return redis.call('EVAL', 'return 1', 0) end)",
    f"{REG}('e_register', function() {REG}('late', function() end) end)",           # line 20
    f"{REG}{{function_name='e_ro_write', callback=function(keys) return redis.call('SET', keys[1], 'w') end,"
    " flags={'no-writes'}}",
    f"{REG}('e_concat_nil', function(keys, args) return 'x' .. args[1] end)",
    f"{REG}('e_setresp', function() redis.setresp(4) end)",
]))


FUNCTION_CASES = {
    # -- FUNCTION LOAD: valid libraries ----------------------------------------------------------
    "load_both_registration_forms": [
        FLUSH, LOAD(SHOP), LIST(), LIST("WITHCODE"), STATS,
        FC("shop_set", ["k"], ["v"]), FC("shop_get", ["k"]), RO("shop_get", ["k"]), FC("shop_incr", ["n"], ["5"]),
        LOAD(LIB("flags", f"{REG}{{function_name='all_flags', callback=function() return 'flagged' end, "
                          "flags={'no-writes', 'allow-oom', 'allow-stale', 'no-cluster', 'allow-cross-slot-keys'}}")),
        LOAD(LIB("noflags", f"{REG}{{function_name='empty_flags', callback=function() return 1 end, flags={{}}}}")),
        # FUNCTION LIST names the flags once each, in Redis's own order.
        LOAD(LIB("twice", f"{REG}{{function_name='flag_twice', callback=function() return 2 end, "
                          "flags={'allow-stale', 'no-writes', 'no-writes'}}")),
        LOAD(LIB("numeric_description",
                 f"{REG}{{function_name='numdesc', callback=function() return 3 end, description=5}}")),
        LOAD(LIB("numeric_name", f"{REG}(5, function() return 'five' end)")),
        LOAD(LIB("_under_9", f"{REG}('_F9', function() return 9 end)")),
        # Flags are case-insensitive, and a flag given twice is one flag.
        LOAD(LIB("upper_flags", f"{REG}{{function_name='upper_flags_fn', callback=function() return 4 end, "
                                "flags={'NO-WRITES', 'Allow-Stale', 'no-writes'}}")),
        LIST(), FC("all_flags"), RO("all_flags"), FC("5"), FC("_F9"), RO("upper_flags_fn"), STATS,
    ],
    "load_metadata_line": [
        FLUSH,
        # The engine name is case-insensitive; spaces, tabs and \r separate the arguments.
        LOAD(f"#!LUA name=upper\n{REG}('f_upper', function() return 1 end)"),
        LOAD(f"#!lua name=trailing \n{REG}('f_trailing', function() return 1 end)"),
        LOAD(f"#!lua  name=two_spaces\n{REG}('f_two_spaces', function() return 1 end)"),
        LOAD(f"#!lua\tname=tab\n{REG}('f_tab', function() return 1 end)"),
        LOAD(f"#!lua name=crlf\r\n{REG}('f_crlf', function() return 1 end)"),
        LIST(), FC("f_tab"), FC("f_crlf"),
    ],
    "load_metadata_errors": [
        FLUSH,
        LOAD(f"{REG}('f', function() return 1 end)"),                   # missing metadata
        LOAD(""), LOAD("#"), LOAD("#lua name=x\nreturn 1"),
        LOAD("#!"), LOAD("#!lua"), LOAD("#!lua name=no_newline"),        # invalid metadata
        LOAD(f"#!js name=x\n{REG}('f', function() return 1 end)"),      # bad engine
        LOAD("#!\nreturn 1"),
        LOAD(f"#!lua\n{REG}('f', function() return 1 end)"),             # no name
        LOAD(f"#!lua name=a name=b\n{REG}('f', function() return 1 end)"),
        LOAD(f"#!lua name=a name=a\n{REG}('f', function() return 1 end)"),
        LOAD(f"#!lua name=a-b\n{REG}('f', function() return 1 end)"),    # invalid names
        LOAD(f"#!lua name=\n{REG}('f', function() return 1 end)"),
        LOAD(f"#!lua name=a.b\n{REG}('f', function() return 1 end)"),
        LOAD(f"#!lua name=\xc3\xa9\n{REG}('f', function() return 1 end)"),
        LOAD(f"#!lua name=a b\n{REG}('f', function() return 1 end)"),    # unknown metadata
        LOAD(f"#!lua name=a foo=bar\n{REG}('f', function() return 1 end)"),
        LOAD(f"#!lua name=a flags=no-writes\n{REG}('f', function() return 1 end)"),
        LOAD(f"#!lua foo=bar name=a\n{REG}('f', function() return 1 end)"),
        LIST(), STATS,
    ],
    "load_options": [
        FLUSH,
        C("FUNCTION", "LOAD"), C("FUNCTION", "LOAD", "REPLACE"),
        C("FUNCTION", "LOAD", "BAD", LIB("opts", f"{REG}('f_opts', function() return 1 end)")),
        C("FUNCTION", "LOAD", LIB("opts", f"{REG}('f_opts', function() return 1 end)"), "extra"),
        C("FUNCTION", "LOAD", "REPLACE", "REPLACE", LIB("opts", f"{REG}('f_opts', function() return 1 end)")),
        C("FUNCTION", "LOAD", "replace", LIB("opts", f"{REG}('f_opts', function() return 2 end)")),
        FC("f_opts"), LIST(),
    ],
    "load_compile_errors": [
        FLUSH,
        *LOADS_NOTHING("return +"), *LOADS_NOTHING("local t = {"), *LOADS_NOTHING("return 'unterminated"),
        *LOADS_NOTHING(f"{REG}('f', function() return 1 end)\nend"),
        *LOADS_NOTHING(f"\n\n{REG}('f', function() return 1 +"),
        STATS,
    ],
    "load_runtime_errors": [
        FLUSH,
        *LOADS_NOTHING("return 1 + {}"), *LOADS_NOTHING("local x = nil\nlocal y = x.z"),
        *LOADS_NOTHING("local t = {} t.x.y = 1"),
        # A runtime error after a function was registered: the library is not loaded at all.
        *LOADS_NOTHING(f"{REG}('f_then_error', function() return 1 end)\nlocal x = 1 + {{}}"),
        FC("f_then_error"),
        # error() is not among the load-time globals: the error is about the name.
        *LOADS_NOTHING("error('boom')"),
        # Returning a value from the top level is allowed.
        LOAD(LIB("returns", f"{REG}('f_returns', function() return 1 end)\nreturn 5")), FC("f_returns"),
        STATS,
    ],
    "load_time_redis_call_is_refused": [
        FLUSH,
        *LOADS_NOTHING("redis.call('SET', 'x', 'y')"), *LOADS_NOTHING("redis.pcall('PING')"),
        *LOADS_NOTHING(f"{REG}('f', function() return 1 end)\nredis.call('PING')"),
        *LOADS_NOTHING("redis.setresp(3)"), *LOADS_NOTHING("redis.error_reply('x')"),
        *LOADS_NOTHING("redis.sha1hex('x')"), C("EXISTS", "x"),
    ],
    "load_time_globals": [
        # At load time the globals are only `redis` with register_function, log, the LOG_*
        # levels and REDIS_VERSION(_NUM); the table is read-only.
        FLUSH,
        *LOADS_NOTHING("x = 1"), *LOADS_NOTHING("function f() end"), *LOADS_NOTHING("local x = unknown_global"),
        *LOADS_NOTHING("local x = KEYS"), *LOADS_NOTHING("local x = ARGV"), *LOADS_NOTHING("local s = string.rep('x', 2)"),
        *LOADS_NOTHING("local x = math.floor(1.5)"), *LOADS_NOTHING("local t = type(1)"), *LOADS_NOTHING("local p = pcall"),
        *LOADS_NOTHING("local x = tostring(1)"), *LOADS_NOTHING("local x = cjson.encode({})"),
        *LOADS_NOTHING("local x = table.concat({})"), *LOADS_NOTHING("local x = _G"), *LOADS_NOTHING("redis.x = 1"),
        *LOADS_NOTHING(f"{REG}('f_' .. string.rep('x', 3), function() return 1 end)"),
        # What is there: redis.log, the LOG_* levels, REDIS_VERSION and REDIS_VERSION_NUM.
        *LOADS_NOTHING("redis.log(redis.LOG_WARNING, 'a function library is loading')"),
        *LOADS_NOTHING("local v = redis.REDIS_VERSION"),
        LOAD(LIB("allowed", "\n".join([
            f"{REG}('f_allowed', function() return {{redis.REDIS_VERSION, redis.REDIS_VERSION_NUM}} end)",
            "redis.log(redis.LOG_NOTICE, 'loaded')",
            "local n = redis.REDIS_VERSION_NUM + redis.LOG_DEBUG + redis.LOG_VERBOSE + redis.LOG_NOTICE",
            "local v = redis.REDIS_VERSION",
            "for i = 1, 3 do " + REG + "('f_loop' .. i, function() return i end) end",
        ]))),
        FC("f_allowed"), FC("f_loop2"), LIST("LIBRARYNAME", "allowed"),
        # At run time the usual script globals are back.
        LOAD(LIB("runtime", f"{REG}('f_runtime', function() return {{type(string), type(math), type(pcall), "
                            "type(cjson), type(redis.call), type(redis.setresp), type(redis.register_function)} end)")),
        FC("f_runtime"),
    ],
    "register_function_errors": [
        FLUSH,
        *LOADS_NOTHING("local x = 1"),                                                      # nothing registered
        *LOADS_NOTHING(""),
        *LOADS_NOTHING(f"{REG}('f', function() return 1 end)\n{REG}('f', function() return 2 end)"),
        # Bad argument types, positional form.
        *LOADS_NOTHING(f"{REG}()"), *LOADS_NOTHING(f"{REG}('f')"), *LOADS_NOTHING(f"{REG}({{}}, function() end)"),
        *LOADS_NOTHING(f"{REG}('f', 'not a function')"), *LOADS_NOTHING(f"{REG}(1, 2)"),
        *LOADS_NOTHING(f"{REG}('f', function() end, 'x')"), *LOADS_NOTHING(f"{REG}(nil, function() end)"),
        # Bad argument types, table form.
        *LOADS_NOTHING(f"{REG}{{callback=function() return 1 end}}"),
        *LOADS_NOTHING(f"{REG}{{function_name='f'}}"),
        *LOADS_NOTHING(f"{REG}{{function_name='f', callback=5}}"),
        *LOADS_NOTHING(f"{REG}{{function_name={{}}, callback=function() end}}"),
        *LOADS_NOTHING(f"{REG}{{function_name='f', callback=function() end, foo=1}}"),
        *LOADS_NOTHING(f"{REG}{{'f', function() end}}"),
        *LOADS_NOTHING(f"{REG}{{function_name='f', callback=function() end, description={{}}}}"),
        *LOADS_NOTHING(f"{REG}{{function_name='f', callback=function() end, flags='no-writes'}}"),
        # Unknown flags.
        *LOADS_NOTHING(f"{REG}{{function_name='f', callback=function() end, flags={{'bad'}}}}"),
        *LOADS_NOTHING(f"{REG}{{function_name='f', callback=function() end, flags={{5}}}}"),
        # Invalid function names.
        *LOADS_NOTHING(f"{REG}('', function() end)"), *LOADS_NOTHING(f"{REG}('x-y', function() end)"),
        *LOADS_NOTHING(f"{REG}('a b', function() end)"),
        *LOADS_NOTHING(f"{REG}{{function_name='a.b', callback=function() end}}"),
        STATS,
    ],
    "function_name_taken_by_another_library": [
        FLUSH, LOAD(LIB("first", f"{REG}('shared', function() return 'first' end)")),
        LOAD(LIB("second", f"{REG}('shared', function() return 'second' end)")),
        LOAD(LIB("second", f"{REG}('own', function() return 'own' end)\n{REG}('shared', function() return 2 end)")),
        # REPLACE replaces a library of the same name; it does not take another's functions.
        LOAD(LIB("second", f"{REG}('shared', function() return 'second' end)"), "REPLACE"),
        FC("shared"), FC("own"), LIST(), STATS,
        LOAD(LIB("second", f"{REG}('own', function() return 'own' end)")), FC("own"),
        LOAD(LIB("first", f"{REG}('own', function() return 'taken' end)"), "REPLACE"), FC("shared"), FC("own"),
    ],
    "function_names_are_case_insensitive_library_names_are_not": [
        FLUSH, LOAD(LIB("lib", f"{REG}('Fn', function() return 'lower-case library' end)")),
        LOAD(LIB("LIB", f"{REG}('fn', function() return 'upper-case library' end)")),
        LOAD(LIB("LIB", f"{REG}('other', function() return 'upper-case library' end)")),
        FC("fn"), FC("FN"), FC("Fn"), RO("fN"), FC("OTHER"),
        C("FUNCTION", "DELETE", "Lib"), LIST(), LIST("LIBRARYNAME", "l*"), LIST("LIBRARYNAME", "LIB"),
        C("FUNCTION", "DELETE", "LIB"), FC("other"), FC("Fn"), STATS,
    ],
    "library_already_exists_and_replace": [
        FLUSH, LOAD(LIB("lib", f"{REG}('old_fn', function() return 'v1' end)")),
        LOAD(LIB("lib", f"{REG}('old_fn', function() return 'v2' end)")), FC("old_fn"),
        LOAD(LIB("lib", f"{REG}('old_fn', function() return 'v2' end)"), "REPLACE"), FC("old_fn"),
        # A REPLACE that fails leaves the old library as it was.
        LOAD(LIB("lib", "return +"), "REPLACE"), LOAD(LIB("lib", "local x = 1 + {}"), "REPLACE"),
        LOAD(LIB("lib", "local x = 1"), "REPLACE"), FC("old_fn"), LIST("WITHCODE"),
        # A REPLACE that drops a function: the old one is gone.
        LOAD(LIB("lib", f"{REG}('new_fn', function() return 'v3' end)"), "REPLACE"),
        FC("old_fn"), FC("new_fn"), LIST(), STATS,
    ],
    # -- FCALL and FCALL_RO ----------------------------------------------------------------------
    "fcall_and_fcall_ro": [
        FLUSH, LOAD(SHOP), LOAD(ERRORS),
        FC("shop_set", ["k"], ["v"]), RO("shop_set", ["k"], ["w"]), C("GET", "k"),
        RO("shop_get", ["k"]), FC("shop_get", ["k"]), RO("shop_incr", ["n"], ["1"]), FC("shop_incr", ["n"], ["2"]),
        FC("e_ro_write", ["k"]), RO("e_ro_write", ["k"]), C("GET", "k"),
        FC("nosuch"), RO("nosuch"), FC("nosuch", ["k"], ["a"]), C("FCALL", ""), C("FCALL", "", "0"),
        C("SET", "s", "str"), FC("shop_incr", ["s"], ["1"]), FC("shop_incr", ["n"], ["x"]),
        C("HSET", "h", "f", "v"), FC("shop_get", ["h"]), RO("shop_get", ["h"]),
    ],
    "fcall_numkeys_errors": [
        FLUSH, LOAD(SHOP), LOAD(CONVERSIONS),
        C("FCALL", "shop_get", "-1"), C("FCALL", "shop_get", "5", "a"), C("FCALL", "shop_get", "x"),
        C("FCALL", "shop_get", "1.0", "k"), C("FCALL", "shop_get", ""), C("FCALL", "shop_get", " 1", "k"),
        C("FCALL", "shop_get", "00"), C("FCALL", "shop_get", "-0"), C("FCALL", "shop_get", "9223372036854775808"),
        C("FCALL", "shop_get", "-9223372036854775808"), C("FCALL", "shop_get", "1"),
        C("FCALL_RO", "shop_get", "-1"), C("FCALL_RO", "shop_get", "2", "k"), C("FCALL_RO", "shop_get", "x"),
        C("FCALL_RO", "shop_set", "-1"), C("FCALL_RO", "shop_set", "3", "k"), C("FCALL_RO", "shop_set", "x"),
        C("FCALL", "nosuch", "-1"), C("FCALL", "nosuch", "x"),
        C("FCALL"), C("FCALL", "shop_get"), C("FCALL_RO"), C("FCALL_RO", "shop_get"),
        C("FCALL", "c_keys_args", "0", "a1", "a2"), C("FCALL", "c_keys_args", "3", "k1", "k2", "k3"),
    ],
    "keys_and_args_are_tables": [
        FLUSH, LOAD(CONVERSIONS),
        FC("c_keys_args", ["k1", "k2"], ["a1", "a2", "a3"]), FC("c_keys_args"), FC("c_keys_args", [], ["only"]),
        FC("c_keys_writable", ["k1", "k2"]), FC("c_keys_writable", ["k1"]),
        FC("c_args_all", [], [b"\x00\xff\r\n", "", "x" * 1000]), FC("c_bin", [], [b"\x00binary\xff"]),
    ],
    "return_conversions": [
        FLUSH, LOAD(CONVERSIONS), C("HSET", "h", "f", "v"), C("ZADD", "z", "1.5", "m"),
        FC("c_int"), FC("c_neg"), FC("c_str"), FC("c_tab"), FC("c_true"), FC("c_false"), FC("c_nil"), FC("c_none"),
        FC("c_ok"), FC("c_err"), FC("c_err_reply"), FC("c_status_reply"), FC("c_double"), FC("c_map"), FC("c_set"),
        FC("c_big"), FC("c_verbatim"), FC("c_two"), FC("c_resp3_map", ["h"]), FC("c_resp3_null", ["missing"]),
        FC("c_resp3_bool", ["h"]), FC("c_resp3_bool", ["missing"]), FC("c_resp3_double", ["z"]), FC("c_resp2_map", ["h"]),
    ],
    "errors_inside_functions": [
        FLUSH, LOAD(ERRORS), C("SET", "s", "str"),
        FC("e_error"), FC("e_error_level0"), FC("e_error_table"), FC("e_nil_index"), FC("e_wrongtype", ["s"]),
        FC("e_unknown_command"), FC("e_pcall", ["s"]), FC("e_set_global"), FC("e_read_global"), FC("e_arity"),
        FC("e_concat_nil"), FC("e_setresp"), C("GET", "s"),
    ],
    "commands_refused_inside_functions": [
        FLUSH, LOAD(ERRORS), FC("e_multi"), FC("e_fcall"), FC("e_function"), FC("e_eval"), FC("e_register"),
        C("EVAL", "return redis.call('FCALL', 'e_error', 0)", "0"),
        C("EVAL", "return redis.call('FUNCTION', 'FLUSH')", "0"), FC("e_error"),
    ],
    "fcall_inside_multi": [
        FLUSH, LOAD(SHOP), LOAD(ERRORS),
        C("MULTI"), FC("shop_set", ["k"], ["in-multi"]), FC("nosuch"), FC("e_error"), RO("shop_set", ["k"], ["x"]),
        FC("shop_get", ["k"]), C("EXEC"),
        C("MULTI"), C("FCALL", "shop_get"), FC("shop_get", ["k"]), C("EXEC"),
        C("MULTI"), C("FUNCTION", "DELETE", "shop"), FC("shop_get", ["k"]), C("FUNCTION", "LOAD", SHOP),
        FC("shop_get", ["k"]), C("EXEC"),
        C("WATCH", "k"), FC("shop_set", ["k"], ["dirty"]), C("MULTI"), FC("shop_get", ["k"]), C("EXEC"),
        C("WATCH", "k"), FC("shop_get", ["k"]), C("MULTI"), FC("shop_get", ["k"]), C("EXEC"),
    ],
    # -- management ------------------------------------------------------------------------------
    "delete": [
        FLUSH, LOAD(SHOP), LOAD(LIB("other", f"{REG}('other_fn', function() return 'still here' end)")),
        C("FUNCTION", "DELETE", "nosuch"), C("FUNCTION", "DELETE", "SHOP"), C("FUNCTION", "DELETE", "shop"),
        C("FUNCTION", "DELETE", "shop"), FC("shop_get", ["k"]), FC("other_fn"), LIST(), STATS,
        C("FUNCTION", "DELETE"), C("FUNCTION", "DELETE", "other", "shop"), C("FUNCTION", "DELETE", ""),
        C("FUNCTION", "DELETE", "other"), LIST(), STATS,
        LOAD(SHOP), FC("shop_set", ["k"], ["reloaded"]),
    ],
    "flush": [
        FLUSH, LOAD(SHOP), C("FUNCTION", "FLUSH", "SYNC"), LIST(), FC("shop_get", ["k"]), STATS,
        LOAD(SHOP), C("FUNCTION", "FLUSH", "ASYNC"), LIST(), STATS, LOAD(SHOP), C("FUNCTION", "FLUSH", "sync"),
        C("FUNCTION", "FLUSH", "async"), C("FUNCTION", "FLUSH", "BAD"), C("FUNCTION", "FLUSH", "SYNC", "ASYNC"),
        C("FUNCTION", "FLUSH", ""), LIST(),
        # FLUSHALL and FLUSHDB leave the functions alone.
        LOAD(SHOP), C("FLUSHALL"), C("FLUSHDB"), FC("shop_set", ["k"], ["v"]), LIST(),
    ],
    "list_filters_and_withcode": [
        FLUSH, LIST(), LIST("WITHCODE"), LOAD(SHOP), LOAD(CONVERSIONS),
        LOAD(LIB("shopping", f"{REG}('shopping_fn', function() return 1 end)")),
        LOAD(LIB("Shoes", f"{REG}{{function_name='shoes_fn', callback=function() return 1 end, "
                          "flags={'no-writes', 'allow-oom'}}")),
        LIST(), LIST("WITHCODE"), LIST("LIBRARYNAME", "shop"), LIST("LIBRARYNAME", "shop*"), LIST("LIBRARYNAME", "sh?p"),
        LIST("LIBRARYNAME", "SHOP*"), LIST("LIBRARYNAME", "s*"), LIST("LIBRARYNAME", "[cs]o*"), LIST("LIBRARYNAME", "*"),
        LIST("LIBRARYNAME", "nomatch*"), LIST("LIBRARYNAME", ""), LIST("LIBRARYNAME", "shop", "WITHCODE"),
        LIST("WITHCODE", "LIBRARYNAME", "conv"), LIST("libraryname", "shoes", "withcode"),
        LIST("LIBRARYNAME"), LIST("FOO"), LIST("WITHCODE", "FOO"), LIST("LIBRARYNAME", "a", "LIBRARYNAME", "b"),
        LIST("WITHCODE", "WITHCODE"),
    ],
    "stats_with_nothing_running": [
        FLUSH, STATS, LOAD(SHOP), STATS, LOAD(CONVERSIONS), STATS, C("FUNCTION", "DELETE", "shop"), STATS,
        C("FUNCTION", "STATS", "x"), C("FUNCTION", "stats"), FLUSH, STATS,
    ],
    "help_and_unknown_subcommands": [
        C("FUNCTION", "HELP"), C("FUNCTION", "help"), C("FUNCTION", "HELP", "x"), C("FUNCTION", "NOSUCH"),
        C("FUNCTION", "NOSUCH", "a", "b"), C("FUNCTION"), C("FUNCTION", "KILL"), C("FUNCTION", "KILL", "x"),
        C("FUNCTION", "DUMP", "x"), C("FUNCTION", "RESTORE"),
    ],
    # -- DUMP and RESTORE, each server with its own payload ----------------------------------------
    "dump_and_restore_policies": [
        FLUSH, LOAD(SHOP), LOAD(LIB("other", f"{REG}('other_fn', function() return 'other' end)")), DUMP,
        # APPEND (the default): a library that exists is a collision, and nothing is restored.
        # (One library collides at a time: which one an error names first is a hash-table detail.)
        C("FUNCTION", "DELETE", "shop"), C("FUNCTION", "RESTORE", PAYLOAD), C("FUNCTION", "RESTORE", PAYLOAD, "APPEND"),
        LIST(), FC("shop_get", ["k"]),
        C("FUNCTION", "DELETE", "other"), C("FUNCTION", "RESTORE", PAYLOAD, "APPEND"), LIST(), FC("other_fn"),
        # REPLACE: libraries of the same name are replaced, the others stay.
        LOAD(LIB("other", f"{REG}('other_fn', function() return 'changed' end)"), "REPLACE"),
        LOAD(LIB("third", f"{REG}('third_fn', function() return 'third' end)")),
        C("FUNCTION", "RESTORE", PAYLOAD, "REPLACE"), FC("other_fn"), FC("third_fn"), LIST(),
        # FLUSH: everything before is dropped.
        C("FUNCTION", "RESTORE", PAYLOAD, "FLUSH"), FC("third_fn"), LIST(), STATS,
        C("FUNCTION", "RESTORE", PAYLOAD, "flush"), C("FUNCTION", "RESTORE", PAYLOAD, "replace"),
        # A function name taken by another library is a collision for REPLACE too.
        C("FUNCTION", "DELETE", "other"), LOAD(LIB("thief", f"{REG}('other_fn', function() return 'thief' end)")),
        C("FUNCTION", "RESTORE", PAYLOAD, "REPLACE"), C("FUNCTION", "RESTORE", PAYLOAD, "APPEND"), FC("other_fn"),
        LIST(),
        # An empty set of functions dumps and restores too.
        FLUSH, DUMP, C("FUNCTION", "RESTORE", PAYLOAD), LIST(), LOAD(SHOP), C("FUNCTION", "RESTORE", PAYLOAD, "FLUSH"),
        LIST(),
    ],
    "restore_errors": [
        FLUSH, LOAD(SHOP), DUMP, FLUSH,
        C("FUNCTION", "RESTORE", "garbage"), C("FUNCTION", "RESTORE", ""), C("FUNCTION", "RESTORE", "garbage", "BADPOLICY"),
        C("FUNCTION", "RESTORE", PAYLOAD, "BADPOLICY"), C("FUNCTION", "RESTORE", PAYLOAD, "FLUSH", "x"),
        C("FUNCTION", "RESTORE", PAYLOAD, "APPEND", "REPLACE"), LIST(),
        # A damaged payload is refused whole: a flipped byte, a missing byte.
        C("FUNCTION", "RESTORE", CORRUPT_PAYLOAD), LIST(), FLUSH, C("FUNCTION", "RESTORE", TRUNCATED_PAYLOAD), LIST(),
        C("FUNCTION", "RESTORE", PAYLOAD), LIST(), FC("shop_set", ["k"], ["restored"]),
    ],
}


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("name", list(FUNCTION_CASES))
def test_function_case_matches_redis(server_pair, name, protocol):
    rerun = f"test_function_case_matches_redis[{name}-resp{protocol}]"
    label = f"function case {name!r} over RESP{protocol}"
    with differential_session(server_pair, label, rerun, resp3=protocol == 3) as (s, r, _):
        try:
            run_all(FunctionDiffer(s, r, label, rerun), FUNCTION_CASES[name])
        finally:
            for conn in (s, r):  # FLUSHALL leaves functions: the next case starts without them
                conn.call(b"FUNCTION", b"FLUSH")


# ---------------------------------------------------------------------------------------------
# Several clients

def run_two_clients(server_pair, label, steps, rerun):
    """Runs steps ("a" | "b", Op) over two connections per server, functions flushed first."""
    strata_server, redis_server = server_pair
    with differential_session(server_pair, label, rerun) as (sa, ra, _), \
            RespConnection(strata_server.port) as sb, RespConnection(redis_server.port) as rb:
        clients = {"a": FunctionDiffer(sa, ra, f"{label}, client A", rerun),
                   "b": FunctionDiffer(sb, rb, f"{label}, client B", rerun)}
        try:
            run_all(clients["a"], [FLUSH])
            problems = []
            for who, op in steps:
                problems += differences(clients[who], [op])
            assert not problems, f"{len(problems)} step(s) differ:\n\n" + "\n\n".join(problems)
        finally:
            for conn in (sa, ra):
                conn.call(b"FUNCTION", b"FLUSH")


def test_functions_are_shared_by_connections(server_pair):
    """Strata runs functions on every I/O thread; the set of libraries is the server's."""
    run_two_clients(server_pair, "shared functions", [
        ("a", LOAD(SHOP)), ("b", FC("shop_set", ["k"], ["from b"])), ("a", FC("shop_get", ["k"])),
        ("b", LOAD(LIB("shop", f"{REG}('shop_get', function() return 'replaced by b' end)"), "REPLACE")),
        ("a", FC("shop_get", ["k"])), ("a", FC("shop_set", ["k"], ["x"])), ("b", LIST()),
        # A LOAD that fails (a function name of another library) changes nothing, anywhere.
        ("a", LOAD(LIB("thief", f"{REG}('shop_get', function() return 'stolen' end)"))),
        ("a", FC("shop_get", ["k"])), ("b", FC("shop_get", ["k"])),
        ("b", LOAD(LIB("thief", f"{REG}('shop_get', function() return 'stolen' end)"), "REPLACE")),
        ("a", FC("shop_get", ["k"])), ("b", FC("shop_get", ["k"])),
        ("a", LOAD(LIB("shop", f"{REG}('shop_get', function() return 'half' end)\nlocal x = 1 + {{}}"), "REPLACE")),
        ("a", FC("shop_get", ["k"])), ("b", FC("shop_get", ["k"])),
        ("a", C("FUNCTION", "DELETE", "shop")), ("b", FC("shop_get", ["k"])), ("b", LOAD(SHOP)), ("a", DUMP),
        ("b", C("FUNCTION", "FLUSH", "ASYNC")), ("a", FC("shop_get", ["k"])), ("b", STATS),
        ("a", C("FUNCTION", "RESTORE", PAYLOAD)), ("b", FC("shop_get", ["k"])), ("b", STATS),
    ], "test_functions_are_shared_by_connections")


LOOPS = LIB("loops", "\n".join([
    f"{REG}{{function_name='ro_loop', callback=function() local i = 0 while true do i = i + 1 end end, "
    "flags={'no-writes'}}",
    f"{REG}('rw_loop', function() local i = 0 while true do i = i + 1 end end)",
]))


def test_function_kill_stops_a_running_function(server_pair):
    """FUNCTION KILL from another client ends a looping function past busy-reply-threshold, and
    refuses to kill an EVAL script (SCRIPT KILL is for those), as SCRIPT KILL refuses functions.
    FUNCTION STATS names the running function and its command; its duration is not compared."""
    strata_server, redis_server = server_pair
    rerun = "test_function_kill_stops_a_running_function"
    config = {b"busy-reply-threshold": b"100"}
    with differential_session(server_pair, "FUNCTION KILL", rerun, config=config) as (s, r, _), \
            RespConnection(strata_server.port) as sb, RespConnection(redis_server.port) as rb:
        caller = FunctionDiffer(s, r, "FUNCTION KILL, the function's client", rerun)
        other = FunctionDiffer(sb, rb, "FUNCTION KILL, the other client", rerun)
        problems = []

        def check(ops):
            problems.extend(differences(other, ops))

        def check_killed(what):
            s_reply, r_reply = s.read_reply(), r.read_reply()
            if s_reply != r_reply:
                problems.append(f"the killed {what}'s reply: strata {fmt(s_reply)}, redis {fmt(r_reply)}")

        try:
            run_all(caller, [FLUSH, LOAD(LOOPS)])
            for function in ("ro_loop", "rw_loop"):
                for conn in (s, r):
                    conn.send(b"FCALL", function.encode(), b"0")
                time.sleep(0.4)  # past the threshold on both servers
                running = []
                for conn in (sb, rb):
                    st = conn.call(b"FUNCTION", b"STATS").py()
                    info = dict(zip(st[1][::2], st[1][1::2])) if isinstance(st, list) and st[1] else st
                    if isinstance(info, dict):
                        info.pop(b"duration_ms", None)
                    running.append(info)
                if running[0] != running[1]:
                    problems.append(f"FUNCTION STATS while {function} runs (duration_ms left out): "
                                    f"strata {running[0]}, redis {running[1]}")
                check([C("SCRIPT", "KILL"), C("FUNCTION", "KILL")])
                check_killed(f"function {function}")
                check([C("FUNCTION", "KILL")])
            for conn in (s, r):
                conn.send(b"EVAL", b"local i = 0 while true do i = i + 1 end", b"0")
            time.sleep(0.4)
            check([C("FUNCTION", "KILL"), C("SCRIPT", "KILL")])
            check_killed("script")
            assert not problems, f"{len(problems)} difference(s):\n\n" + "\n\n".join(problems)
        finally:
            for conn in (sb, rb):  # a function a failed step left running must not outlive the test
                conn.call(b"FUNCTION", b"KILL")


# ---------------------------------------------------------------------------------------------
# Strata alone: DUMP/RESTORE round trips and I/O threads

def function_set(conn):
    """FUNCTION LIST WITHCODE in an order-free form: library -> (functions, code)."""
    libraries = {}
    for library in conn.call(b"FUNCTION", b"LIST", b"WITHCODE").py():
        fields = dict(zip(library[::2], library[1::2])) if isinstance(library, list) else library
        functions = []
        for function in fields[b"functions"]:
            info = dict(zip(function[::2], function[1::2])) if isinstance(function, list) else function
            functions.append((info[b"name"], info[b"description"], tuple(info[b"flags"])))
        libraries[fields[b"library_name"]] = (sorted(functions), fields[b"library_code"])
    return libraries


def test_dump_flush_restore_brings_the_same_functions_back(server_pair):
    strata_server = server_pair[0]
    with RespConnection(strata_server.port) as c:
        try:
            assert c.call(b"FUNCTION", b"FLUSH").text() == "OK"
            for code in (SHOP, CONVERSIONS, ERRORS):
                assert c.call(b"FUNCTION", b"LOAD", code).kind == "$"
            before = function_set(c)
            assert sorted(before) == [b"conv", b"errs", b"shop"]
            payload = c.call(b"FUNCTION", b"DUMP")
            assert payload.kind == "$" and payload.value

            assert c.call(b"FUNCTION", b"FLUSH").text() == "OK"
            assert function_set(c) == {}
            assert c.call(b"FUNCTION", b"RESTORE", payload.value).text() == "OK"
            assert function_set(c) == before
            assert c.call(b"FCALL", b"shop_set", b"1", b"k", b"restored").text() == "OK"
            assert c.call(b"FCALL_RO", b"shop_get", b"1", b"k").value == b"restored"

            # APPEND (the default) refuses a payload whose libraries exist, and changes nothing.
            # (The exact error text is compared with Redis's in the dump_and_restore_policies case.)
            for args in ([], [b"APPEND"]):
                reply = c.call(b"FUNCTION", b"RESTORE", payload.value, *args)
                assert reply.is_error and reply.value.startswith(b"ERR Library ") and b"already exists" in reply.value
            assert function_set(c) == before

            # REPLACE puts the dumped code back over a changed library and keeps the others.
            changed = LIB("shop", f"{REG}('shop_get', function() return 'changed' end)")
            assert c.call(b"FUNCTION", b"LOAD", b"REPLACE", changed).value == b"shop"
            extra = LIB("extra", f"{REG}('extra_fn', function() return 'extra' end)")
            assert c.call(b"FUNCTION", b"LOAD", extra).value == b"extra"
            assert c.call(b"FUNCTION", b"RESTORE", payload.value, b"REPLACE").text() == "OK"
            after = function_set(c)
            assert after.pop(b"extra")[1] == extra.encode()
            assert after == before
            assert c.call(b"FCALL_RO", b"shop_get", b"1", b"k").value == b"restored"

            # FLUSH drops everything first.
            assert c.call(b"FUNCTION", b"RESTORE", payload.value, b"FLUSH").text() == "OK"
            assert function_set(c) == before
            assert c.call(b"FCALL", b"extra_fn", b"0").text() == "ERR Function not found"

            # A payload that is not a dump is refused, and changes nothing.
            bad = Reply("-", b"ERR DUMP payload version or checksum are wrong")
            for junk in (b"", b"garbage", payload.value[:-1], payload.value + b"x"):
                assert c.call(b"FUNCTION", b"RESTORE", junk, b"FLUSH") == bad, junk
            assert function_set(c) == before

            # A flipped byte inside a library's code: the checksum catches it.
            middle = len(payload.value) - 20
            corrupt = payload.value[:middle] + bytes([payload.value[middle] ^ 0x01]) + payload.value[middle + 1:]
            assert c.call(b"FUNCTION", b"RESTORE", corrupt, b"FLUSH") == bad
            assert function_set(c) == before
        finally:
            c.call(b"FUNCTION", b"FLUSH")


def test_functions_are_visible_from_connections_on_every_io_thread(server_pair):
    """Strata deals connections round-robin over its I/O threads (the fixture starts it with
    io-threads 2), and each thread has its own Lua state: six connections opened in a row use
    both threads, and each sees every change made through any other."""
    strata_server = server_pair[0]
    conns = [RespConnection(strata_server.port) for _ in range(6)]
    try:
        a, *others = conns
        if strata_server.name == "strata":  # (a redis-server under STRATA_DIFF_SELF_CHECK=1)
            assert a.call(b"CONFIG", b"GET", b"io-threads").py() == [b"io-threads", b"2"]
        assert a.call(b"FUNCTION", b"FLUSH").text() == "OK"
        assert a.call(b"FUNCTION", b"LOAD", SHOP).value == b"shop"
        for i, conn in enumerate(others):
            assert conn.call(b"FCALL", b"shop_set", b"1", f"k{i}", f"from {i}").text() == "OK"
            assert a.call(b"FCALL_RO", b"shop_get", b"1", f"k{i}").value == f"from {i}".encode()

        # A REPLACE through one connection is what every other connection runs next.
        replaced = LIB("shop", f"{REG}('shop_get', function(keys) return 'v2:' .. keys[1] end)")
        assert conns[3].call(b"FUNCTION", b"LOAD", b"REPLACE", replaced).value == b"shop"
        for i, conn in enumerate(conns):
            assert conn.call(b"FCALL", b"shop_get", b"1", b"k").value == b"v2:k", i
            assert conn.call(b"FCALL", b"shop_set", b"1", b"k", b"v").text() == "ERR Function not found", i

        # DUMP on one, FLUSH on another, RESTORE on a third.
        payload = conns[1].call(b"FUNCTION", b"DUMP").value
        assert conns[2].call(b"FUNCTION", b"FLUSH", b"ASYNC").text() == "OK"
        for i, conn in enumerate(conns):
            assert conn.call(b"FCALL", b"shop_get", b"1", b"k").text() == "ERR Function not found", i
            assert conn.call(b"FUNCTION", b"STATS").py()[3][1] == [b"libraries_count", 0, b"functions_count", 0], i
        assert conns[4].call(b"FUNCTION", b"RESTORE", payload).text() == "OK"
        for i, conn in enumerate(conns):
            assert conn.call(b"FCALL", b"shop_get", b"1", b"k").value == b"v2:k", i

        # DELETE through one connection, while the others keep running other libraries.
        other = LIB("other", f"{REG}('other_fn', function() return 'other' end)")
        assert conns[5].call(b"FUNCTION", b"LOAD", other).value == b"other"
        assert conns[0].call(b"FUNCTION", b"DELETE", b"shop").text() == "OK"
        for i, conn in enumerate(conns):
            assert conn.call(b"FCALL", b"shop_get", b"1", b"k").text() == "ERR Function not found", i
            assert conn.call(b"FCALL", b"other_fn", b"0").value == b"other", i
    finally:
        conns[0].call(b"FUNCTION", b"FLUSH")
        for conn in conns:
            conn.close()
