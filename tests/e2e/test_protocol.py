"""RESP on the wire: pipelining, partial reads, inline commands, protocol errors, RESP3.

Every test runs against strata and against Debian's redis-server 7.0.15 (the `server` fixture is
parametrized over both), and compares raw bytes, so the redis variant shows that each expected
byte string really is what Redis sends.
"""
import re
import socket
import time

import pytest

from helpers import (RespConnection, bulk, encode_command, error, integer,  # noqa: F401
                     server, server_factory, status)


def assert_reply_then_close(conn, data, expected):
    """Send data; the server answers exactly `expected` and then closes the connection."""
    conn.send_raw(data)
    got = conn.read_until_closed(timeout=5)
    assert got == expected


# ---------------------------------------------------------------------------------------------
# Pipelining and partial input

def test_pipeline_of_10000_commands_is_answered_in_order(server):
    commands, expected = [], []
    for i in range(5000):
        commands.append(encode_command("SET", f"key:{i}", f"value-{i}"))
        expected.append(b"+OK\r\n")
        commands.append(encode_command("GET", f"key:{i}"))
        value = b"value-%d" % i
        expected.append(b"$%d\r\n%s\r\n" % (len(value), value))
    expected = b"".join(expected)
    with RespConnection(server.port, timeout=20) as conn:
        conn.send_raw(b"".join(commands))
        assert conn.read_exactly(len(expected)) == expected
        assert conn.call("DBSIZE") == integer(5000)


def test_pipeline_of_10000_increments_counts_in_order(server):
    with RespConnection(server.port, timeout=20) as conn:
        conn.send_raw(encode_command("INCR", "counter") * 10000)
        expected = b"".join(b":%d\r\n" % i for i in range(1, 10001))
        assert conn.read_exactly(len(expected)) == expected


def test_inline_pipeline_is_answered_in_order(server):
    with RespConnection(server.port) as conn:
        conn.send_raw(b"SET x 1\r\nINCR x\r\nINCR x\nGET x\r\nPING\r\n")
        expected = b"+OK\r\n:2\r\n:3\r\n$1\r\n3\r\n+PONG\r\n"
        assert conn.read_exactly(len(expected)) == expected


def test_command_split_byte_by_byte_is_parsed(server):
    data = encode_command("SET", "split-key", "hello world") + encode_command("GET", "split-key")
    with RespConnection(server.port) as conn:
        for i in range(len(data)):
            conn.send_raw(data[i:i + 1])
            time.sleep(0.002)
        assert conn.read_exactly(len(b"+OK\r\n$11\r\nhello world\r\n")) == b"+OK\r\n$11\r\nhello world\r\n"


def test_inline_command_split_byte_by_byte_is_parsed(server):
    with RespConnection(server.port) as conn:
        for byte in b'SET a "b c"\r\nGET a\r\n':
            conn.send_raw(bytes([byte]))
            time.sleep(0.002)
        assert conn.read_exactly(len(b"+OK\r\n$3\r\nb c\r\n")) == b"+OK\r\n$3\r\nb c\r\n"


def test_incomplete_command_gets_no_reply_until_it_is_complete(server):
    with RespConnection(server.port) as conn:
        data = encode_command("SET", "k", "v" * 100)
        conn.send_raw(data[:-10])
        conn.settimeout(0.3)
        with pytest.raises(socket.timeout):
            conn.sock.recv(100)
        conn.settimeout(5)
        conn.send_raw(data[-10:])
        assert conn.read_reply() == status("OK")


def test_client_disconnecting_mid_command_does_not_disturb_the_server(server):
    with RespConnection(server.port) as conn:
        conn.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\npartial")
    with RespConnection(server.port) as conn:
        conn.send_raw(b"*2\r\n$3\r\nGET\r\n$1\r\nk")
    with RespConnection(server.port) as conn:
        assert conn.call("GET", "k") == bulk(None)
        assert conn.call("PING") == status("PONG")


# ---------------------------------------------------------------------------------------------
# Inline commands

@pytest.mark.parametrize("line, expected", [
    (b"PING\r\n", b"+PONG\r\n"),
    (b"PING\n", b"+PONG\r\n"),
    (b"ping hello\r\n", b"$5\r\nhello\r\n"),
    (b"  PING   \r\n", b"+PONG\r\n"),
    (b"\r\n\r\nPING\r\n", b"+PONG\r\n"),
    (b"\nPING\n", b"+PONG\r\n"),
    (b"ECHO \"a\\x41\\n\\t\\\"\"\r\n", b"$5\r\naA\n\t\"\r\n"),
    (b"ECHO 'it\\'s'\r\n", b"$4\r\nit's\r\n"),
    (b"ECHO \"\"\r\n", b"$0\r\n\r\n"),
    (b"GET\r\n", b"-ERR wrong number of arguments for 'get' command\r\n"),
    (b"FOO bar\r\n", b"-ERR unknown command 'FOO', with args beginning with: 'bar' \r\n"),
], ids=["crlf", "lf_only", "argument", "surrounding_spaces", "blank_lines_ignored", "blank_lf_lines_ignored",
        "double_quote_escapes", "single_quote_escape", "empty_quoted_argument", "wrong_arity", "unknown_command"])
def test_inline_command_is_answered_like_redis(server, line, expected):
    with RespConnection(server.port) as conn:
        conn.send_raw(line)
        assert conn.read_exactly(len(expected)) == expected
        assert conn.call("PING") == status("PONG")  # nothing else was sent


def test_inline_quoted_argument_keeps_its_space(server):
    with RespConnection(server.port) as conn:
        conn.send_raw(b'SET a "b c"\r\n')
        assert conn.read_reply() == status("OK")
        assert conn.call("GET", "a") == bulk("b c")
        conn.send_raw(b"SET 'x y' 'single quoted'\n")
        assert conn.read_reply() == status("OK")
        assert conn.call("GET", "x y") == bulk("single quoted")


def test_empty_multibulk_arrays_are_ignored(server):
    with RespConnection(server.port) as conn:
        conn.send_raw(b"*0\r\n*-1\r\nPING\r\n")
        assert conn.read_exactly(7) == b"+PONG\r\n"


# ---------------------------------------------------------------------------------------------
# Protocol errors: Redis's exact text, then the connection is closed

PROTOCOL_ERRORS = [
    ("multibulk_length_not_a_number", b"*abc\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    ("multibulk_length_above_int_max", b"*3000000000\r\n", b"-ERR Protocol error: invalid multibulk length\r\n"),
    ("simple_string_inside_array", b"*1\r\n+foo\r\n", b"-ERR Protocol error: expected '$', got '+'\r\n"),
    ("integer_inside_array", b"*2\r\n$3\r\nGET\r\n:1\r\n", b"-ERR Protocol error: expected '$', got ':'\r\n"),
    ("negative_bulk_length", b"*1\r\n$-5\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    ("bulk_length_not_a_number", b"*1\r\n$abc\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    ("bulk_length_above_512mb", b"*1\r\n$999999999999\r\n", b"-ERR Protocol error: invalid bulk length\r\n"),
    ("unbalanced_double_quote", b'SET a "b\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ("unbalanced_single_quote", b"SET a 'b\r\n", b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ("closing_quote_followed_by_text", b'SET a "b"c\r\n', b"-ERR Protocol error: unbalanced quotes in request\r\n"),
    ("inline_line_of_70kb_without_newline", b"x" * 70000, b"-ERR Protocol error: too big inline request\r\n"),
    ("multibulk_header_of_70kb_without_newline", b"*" + b"1" * 70000,
     b"-ERR Protocol error: too big mbulk count string\r\n"),
    ("bulk_header_of_70kb_without_newline", b"*1\r\n$" + b"1" * 70000,
     b"-ERR Protocol error: too big bulk count string\r\n"),
]


@pytest.mark.parametrize("data, expected", [(d, e) for _, d, e in PROTOCOL_ERRORS],
                         ids=[name for name, _, _ in PROTOCOL_ERRORS])
def test_protocol_error_gets_redis_text_and_closes_the_connection(server, data, expected):
    with RespConnection(server.port) as conn:
        assert_reply_then_close(conn, data, expected)
    with RespConnection(server.port) as conn:
        assert conn.call("PING") == status("PONG")


def test_commands_before_a_protocol_error_are_answered(server):
    with RespConnection(server.port) as conn:
        assert_reply_then_close(conn, b"PING\r\n*1\r\n$4\r\nPING\r\n*abc\r\nPING\r\n",
                                b"+PONG\r\n+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n")


def test_bulk_longer_than_proto_max_bulk_len_is_a_protocol_error(server_factory):
    server = server_factory("--proto-max-bulk-len", "1mb")
    with RespConnection(server.port) as conn:
        assert_reply_then_close(conn, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n",
                                b"-ERR Protocol error: invalid bulk length\r\n")
    with RespConnection(server.port) as conn:
        at_limit = b"v" * (1024 * 1024)
        assert conn.call("SET", "k", at_limit) == status("OK")
        assert conn.call("STRLEN", "k") == integer(1024 * 1024)


# ---------------------------------------------------------------------------------------------
# Large values

def test_5mb_value_round_trips_intact(server):
    value = bytes(range(256)) * (5 * 1024 * 1024 // 256)
    with RespConnection(server.port, timeout=20) as conn:
        assert conn.call("SET", "big", value) == status("OK")
        assert conn.call("STRLEN", "big") == integer(len(value))
        assert conn.call("GET", "big") == bulk(value)
        assert conn.call("GETRANGE", "big", 5 * 1024 * 1024 - 3, -1) == bulk(value[-3:])


def test_pipeline_whose_replies_exceed_the_socket_buffer_is_answered_completely(server):
    value = b"m" * 100_000
    with RespConnection(server.port, timeout=5) as conn:
        assert conn.call("SET", "medium", value) == status("OK")
        replies = conn.pipeline([("GET", "medium")] * 50 + [("PING",)])
        assert replies == [bulk(value)] * 50 + [status("PONG")]


def test_pipelined_large_replies_arrive_complete_and_in_order(server):
    values = [bytes([65 + i]) * (1024 * 1024 + i) for i in range(8)]
    with RespConnection(server.port, timeout=5) as conn:
        replies = conn.pipeline([("SET", f"big:{i}", v) for i, v in enumerate(values)])
        assert replies == [status("OK")] * len(values)
        replies = conn.pipeline([("GET", f"big:{i}") for i in range(len(values))] * 3)
        assert replies == [bulk(v) for v in values] * 3


# ---------------------------------------------------------------------------------------------
# RESP3, RESET, QUIT

def test_hello_3_answers_with_a_resp3_map(server):
    with RespConnection(server.port) as conn:
        conn.send("HELLO", "3")
        assert conn.peek(1) == b"%"
        reply = conn.read_reply()
        assert reply.kind == "%"
        fields = reply.py()
        assert {b"server", b"version", b"proto", b"id", b"mode", b"role", b"modules"} <= set(fields)
        assert fields[b"proto"] == 3
        assert isinstance(fields[b"id"], int)


def test_resp3_null_is_underscore_and_resp2_null_is_dollar_minus_one(server):
    with RespConnection(server.port) as conn:
        conn.send("GET", "missing")
        assert conn.read_exactly(5) == b"$-1\r\n"
        conn.call("HELLO", "3")
        conn.send("GET", "missing")
        assert conn.read_exactly(3) == b"_\r\n"
        conn.send("MGET", "missing", "missing")
        assert conn.read_exactly(10) == b"*2\r\n_\r\n_\r\n"
        reply = conn.call("HELLO", "2")
        assert reply.kind == "*"
        conn.send("GET", "missing")
        assert conn.read_exactly(5) == b"$-1\r\n"


def test_resp3_config_get_is_a_map(server):
    with RespConnection(server.port) as conn:
        conn.call("HELLO", "3")
        reply = conn.call("CONFIG", "GET", "maxmemory")
        assert reply.kind == "%"
        assert reply.py() == {b"maxmemory": b"0"}


def test_hello_with_unsupported_version_is_noproto(server):
    with RespConnection(server.port) as conn:
        conn.send("HELLO", "4")
        expected = b"-NOPROTO unsupported protocol version\r\n"
        assert conn.read_exactly(len(expected)) == expected
        conn.send("HELLO", "1")
        assert conn.read_exactly(len(expected)) == expected
        assert conn.call("HELLO", "abc") == error("ERR Protocol version is not an integer or out of range")
        conn.send("GET", "missing")
        assert conn.read_exactly(5) == b"$-1\r\n"  # still RESP2


def test_hello_without_arguments_keeps_the_protocol(server):
    with RespConnection(server.port) as conn:
        reply = conn.call("HELLO")
        assert reply.kind == "*"  # RESP2: the map is a flat array
        fields = reply.py()
        assert dict(zip(fields[::2], fields[1::2]))[b"proto"] == 2


def test_reset_returns_to_resp2_and_database_0(server):
    with RespConnection(server.port) as conn:
        assert conn.call("SET", "k", "db0") == status("OK")
        conn.call("HELLO", "3")
        assert conn.call("SELECT", "1") == status("OK")
        conn.send("RESET")
        assert conn.read_exactly(8) == b"+RESET\r\n"
        assert conn.call("GET", "k") == bulk("db0")
        conn.send("GET", "missing")
        assert conn.read_exactly(5) == b"$-1\r\n"


def test_quit_answers_ok_then_closes(server):
    with RespConnection(server.port) as conn:
        assert_reply_then_close(conn, encode_command("QUIT"), b"+OK\r\n")


def test_quit_in_a_pipeline_drops_the_commands_after_it(server):
    with RespConnection(server.port) as conn:
        assert_reply_then_close(conn, b"SET q 1\r\nQUIT\r\nSET q 2\r\n", b"+OK\r\n+OK\r\n")
    with RespConnection(server.port) as conn:
        assert conn.call("GET", "q") == bulk("1")


def test_many_connections_are_served_independently(server):
    conns = [RespConnection(server.port) for _ in range(50)]
    try:
        for i, conn in enumerate(conns):
            conn.send("SET", f"c{i}", i)
        for conn in conns:
            assert conn.read_reply() == status("OK")
        for i, conn in enumerate(reversed(conns)):
            j = len(conns) - 1 - i
            assert conn.call("GET", f"c{j}") == bulk(str(j))
    finally:
        for conn in conns:
            conn.close()


def test_a_huge_bulk_header_does_not_make_the_server_reserve_the_announced_size(strata_factory):
    """An 18-byte header announcing a 512 MB argument must not commit 512 MB: the input buffer
    grows with the bytes that actually arrive."""
    server = strata_factory()
    probe = RespConnection(server.port)
    rss_before = int(re.search(rb"used_memory_rss:(\d+)", probe.call("INFO", "memory").value).group(1))
    sockets = []
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(b"*1\r\n$536870000\r\n" + b"x" * 1000)
        sockets.append(s)
    time.sleep(0.3)
    rss_after = int(re.search(rb"used_memory_rss:(\d+)", probe.call("INFO", "memory").value).group(1))
    for s in sockets:
        s.close()
    probe.close()
    assert rss_after - rss_before < 64 * 1024 * 1024, (rss_before, rss_after)


@pytest.mark.parametrize("request_bytes, error", [
    (b"*11\r\n", b"-ERR Protocol error: unauthenticated multibulk length\r\n"),
    (b"*1\r\n$16385\r\n", b"-ERR Protocol error: unauthenticated bulk length\r\n"),
])
def test_an_unauthenticated_client_may_not_send_big_requests(server_factory, request_bytes, error):
    server = server_factory("--requirepass", "secret")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(request_bytes)
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            data += chunk
        assert data == error
        assert s.recv(256) == b""  # and the connection is closed
