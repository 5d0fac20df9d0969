#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/ (run from fuzz/). Deterministic.

decode:       raw RESP bytes, one meaningful case per file.
decode_split: byte 0 = number of chunk sizes (mod 17), then the sizes, then a RESP payload.
roundtrip:    bytes the value builder in core/src/fuzzing.rs reads (type tag, size, content).
machine:      config byte, sentinel count, then operations for core/src/fuzzing/machine_target.rs
              (opcode % 12, operands; snippets by index).
mux:          three-byte steps for core/src/fuzzing/mux_target.rs (opcode, member or
              connection, snippet or sentinel).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH_DATA = os.path.join(HERE, "..", "bench", "data")


def bulk(s):
    return b"$%d\r\n%s\r\n" % (len(s), s)


DECODE = {
    # RESP2
    "simple_ok": b"+OK\r\n",
    "simple_empty": b"+\r\n",
    "error": b"-ERR unknown command 'foo', with args beginning with: \r\n",
    "error_readonly": b"-READONLY You can't write against a read only replica.\r\n",
    "integer": b":1000\r\n",
    "integer_negative": b":-42\r\n",
    "integer_max": b":9223372036854775807\r\n",
    "integer_min": b":-9223372036854775808\r\n",
    "bulk": bulk(b"hello"),
    "bulk_empty": b"$0\r\n\r\n",
    "bulk_binary": bulk(bytes(range(0, 32)) + b"\r\n\x00\xff"),
    "bulk_null": b"$-1\r\n",
    "array_command": b"*3\r\n" + bulk(b"SET") + bulk(b"key") + bulk(b"value"),
    "array_empty": b"*0\r\n",
    "array_null": b"*-1\r\n",
    "array_nested": b"*2\r\n*2\r\n:1\r\n+two\r\n*1\r\n*0\r\n",
    "array_with_nulls": b"*3\r\n$-1\r\n*-1\r\n_\r\n",
    "pipeline": b"+OK\r\n:1\r\n" + bulk(b"foo") + b"*1\r\n+x\r\n-ERR e\r\n",
    "role_master": b"*3\r\n" + bulk(b"master") + b":3129659\r\n*1\r\n*3\r\n" + bulk(b"127.0.0.1") + bulk(b"9001") + bulk(b"3129242"),
    "get_master_addr": b"*2\r\n" + bulk(b"127.0.0.1") + bulk(b"6379"),
    "switch_master_message": b"*3\r\n" + bulk(b"message") + bulk(b"+switch-master") + bulk(b"mymaster 127.0.0.1 6379 127.0.0.1 6380"),
    # RESP3
    "null": b"_\r\n",
    "bool_true": b"#t\r\n",
    "bool_false": b"#f\r\n",
    "double": b",3.14159\r\n",
    "double_exp": b",-1.5e-10\r\n",
    "double_inf": b",inf\r\n",
    "double_neg_inf": b",-inf\r\n",
    "double_nan": b",nan\r\n",
    "double_integer": b",10\r\n",
    "big_number": b"(3492890328409238509324850943850943825024385\r\n",
    "big_number_negative": b"(-12345678901234567890\r\n",
    "blob_error": b"!21\r\nSYNTAX invalid syntax\r\n",
    "verbatim": b"=15\r\ntxt:Some string\r\n",
    "map": b"%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
    "map_empty": b"%0\r\n",
    "set": b"~3\r\n+a\r\n:1\r\n#f\r\n",
    "push_message": b">3\r\n" + bulk(b"message") + bulk(b"__sentinel__:hello") + bulk(b"payload"),
    "attribute_then_array": b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
    "attribute_inside_array": b"*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n",
    "hello3_reply": b"%3\r\n" + bulk(b"server") + bulk(b"redis") + bulk(b"proto") + b":3\r\n" + bulk(b"modules") + b"*0\r\n",
    "nested_mixed": b"*3\r\n%1\r\n~1\r\n#t\r\n>1\r\n_\r\n=7\r\nmkd:# x\r\n(1\r\n",
    # Incomplete input: need more, no error.
    "partial_bulk": b"$10\r\nhel",
    "partial_array": b"*2\r\n:1\r\n",
    "partial_length": b"$12",
    "partial_cr": b"+OK\r",
    # Malformed input: typed errors.
    "bad_prefix": b"?x\r\n",
    "bad_prefix_inline": b"PING\r\n",
    "bulk_negative_length": b"$-2\r\n",
    "array_negative_length": b"*-5\r\n",
    "integer_bad_digit": b":12a\r\n",
    "integer_empty": b":\r\n",
    "integer_overflow": b":9223372036854775808\r\n",
    "length_overflow": b"$99999999999999999999999\r\n",
    "bulk_missing_crlf": b"$3\r\nabcd\r\n",
    "simple_lf_only": b"+OK\n+OK\r\n",
    "bool_bad": b"#x\r\n",
    "double_bad": b",abc\r\n",
    "big_number_bad": b"(12a\r\n",
    "verbatim_bad": b"=3\r\nab\r\n",
    "streamed_bulk": b"$?\r\n;4\r\nHell\r\n;0\r\n",
    "streamed_array": b"*?\r\n:1\r\n.\r\n",
    "bulk_over_512mib": b"$536870913\r\n",
    "aggregate_huge_claim": b"*4294967297\r\n",
    "map_huge_claim": b"%9999999999\r\n",
    "deep_nesting": b"*1\r\n" * 200 + b":1\r\n",
    "long_line": b"+" + b"a" * 100 + b"\r\n",
    "null_with_payload": b"_x\r\n",
    "empty": b"",
}


def decode_split():
    out = {}
    picks = ["pipeline", "array_command", "attribute_then_array", "nested_mixed", "bulk",
             "map", "double_nan", "big_number", "verbatim", "blob_error", "partial_bulk",
             "bulk_missing_crlf", "integer_bad_digit", "deep_nesting", "long_line",
             "streamed_bulk", "push_message", "set", "hello3_reply"]
    configs = {"bytewise": bytes([1, 1]), "odd": bytes([3, 2, 0, 5]), "halves": bytes([1, 7]),
               "whole": bytes([1, 255]), "zeros": bytes([2, 0, 1])}
    names = list(configs)
    for i, name in enumerate(picks):
        cfg = names[i % len(names)]
        out[f"{name}_{cfg}"] = configs[cfg] + DECODE[name]
    for cfg, prefix in configs.items():
        with open(os.path.join(BENCH_DATA, "sentinel_replicas.resp2"), "rb") as f:
            r2 = f.read()
        with open(os.path.join(BENCH_DATA, "sentinel_replicas.resp3"), "rb") as f:
            r3 = f.read()
        if cfg in ("bytewise", "odd"):
            out[f"sentinel_replicas_resp2_{cfg}"] = prefix + r2
            out[f"sentinel_replicas_resp3_{cfg}"] = prefix + r3
    return out


def roundtrip():
    # Builder: top byte (7 mod 8 = attributed), then per value: tag (mod 14), size, content.
    tags = ["simple", "error", "integer", "bulk", "null", "bool", "double", "big_number",
            "blob_error", "verbatim", "array", "set", "push", "map"]
    out = {}
    for t, name in enumerate(tags):
        out[name] = bytes([0, t, 5]) + b"hello world! 0123456789"
    f = lambda x: struct.pack("<d", x)
    out["double_nan"] = bytes([0, 6, 0]) + f(float("nan"))
    out["double_inf"] = bytes([0, 6, 0]) + f(float("inf"))
    out["double_neg_inf"] = bytes([0, 6, 0]) + f(float("-inf"))
    out["double_neg_zero"] = bytes([0, 6, 0]) + f(-0.0)
    out["double_tiny"] = bytes([0, 6, 0]) + f(5e-324)
    out["double_pi"] = bytes([0, 6, 0]) + f(3.141592653589793)
    out["integer_min"] = bytes([0, 2, 0]) + struct.pack("<q", -2**63)
    out["simple_with_crlf_bytes"] = bytes([0, 0, 6]) + b"a\r\nb\rc"
    out["bulk_with_crlf"] = bytes([0, 3, 8]) + b"\r\n\r\n$1\r\n"
    out["attributed_bulk"] = bytes([7, 2, 0, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 3, 3]) + b"abc"
    out["nested_arrays"] = bytes([0, 10, 3] + [10, 2] * 8 + [2, 0] * 10)
    out["map_of_sets"] = bytes([0, 13, 3, 0, 2, 0x61, 0x62, 11, 4, 5, 1, 5, 0, 4, 0, 6, 0] + [9] * 40)
    out["push_mixed"] = bytes([0, 12, 5, 3, 3, 0x78, 0x79, 0x7a, 4, 0, 5, 1, 7, 2, 9, 9, 8, 2, 0x45, 0x45])
    out["array_of_attributed"] = bytes([0, 10, 2, 14, 1, 0, 3, 0x6b, 0x65, 0x79, 2, 0] + [0] * 8 + [3, 2, 0x6f, 0x6b, 5, 1])
    out["map_attributed_value"] = bytes([0, 13, 1, 3, 1, 0x6b, 14, 2, 0, 1, 0x61, 0, 1, 0x62, 4, 0])
    out["empty"] = b""
    return out


def machine():
    # Opcodes (see core/src/fuzzing/machine_target.rs): 0 connected, 1 closed, 2 connect
    # failed, 3 raw bytes (conn, len, bytes), 4 snippet (conn, index, cut), 6 connect all,
    # 7 advance (step index), 8 fire next deadline, 9 submit (kind), 10 subscribe (kind),
    # 11 close when the next byte is 0xff. Conn operand = index among live connections.
    # Snippets: 0-2 master addr, 3 null, 4 ROLE master, 5 ROLE slave, 6 +OK, 7 :1, 9 READONLY,
    # 12 unknown HELLO, 13 NOAUTH, 14 HELLO map, 15 subscribe ack, 16 message, 17 switch 1->2,
    # 18 switch 2->1, 19 selected 2, 20 promoted 2, 21 send-slaveof-noone 3, 22 +odown,
    # 23 -odown, 24 abort, 25 failover-end, 26 +sentinel, 27 +sdown, 28 push promoted 3,
    # 29 replicas, 30 sentinels, 31 SENTINEL MASTER epoch 0 (10.0.0.1), 32 epoch 1 (10.0.0.2),
    # 33 RESP3 map epoch 2, 34 no such master. A master-role walk needs get-master + 31..33.
    ready = [6, 4, 0, 0, 0, 4, 0, 31, 0, 6, 4, 2, 4, 0]
    out = {
        "ready": bytes([0, 1] + ready),
        "ready_and_write": bytes([0, 1] + ready + [9, 2, 4, 2, 7, 0]),
        "early_failover": bytes([0, 1] + ready + [9, 2, 4, 1, 19, 0, 6, 4, 3, 4, 0, 4, 2, 7, 0]),
        "probe_says_slave_then_master": bytes([0, 1] + ready + [4, 1, 19, 0, 9, 1, 6, 4, 2, 5, 0,
                                                              7, 5, 4, 2, 5, 0, 7, 5, 4, 2, 4, 0, 4, 2, 6, 0]),
        "promoted_then_switch": bytes([32, 1] + ready + [4, 1, 20, 0, 9, 0, 6, 4, 1, 17, 0, 4, 3, 4, 0]),
        "abort_while_probing": bytes([0, 1] + ready + [4, 1, 19, 0, 9, 1, 6, 4, 3, 5, 0, 4, 1, 24, 0,
                                                     4, 0, 0, 0, 4, 0, 31, 0, 6, 4, 2, 4, 0, 8, 8]),
        "fence_expires": bytes([32, 1] + ready + [4, 1, 22, 0, 9, 1, 9, 2, 9, 3, 9, 4] + [8] * 12),
        "odown_lifted": bytes([0, 2] + ready + [4, 1, 22, 0, 9, 2, 4, 1, 23, 0, 4, 0, 0, 0, 4, 0, 31, 0, 8]),
        "switch_master": bytes([0, 1] + ready + [4, 1, 17, 0, 9, 0, 6, 4, 3, 4, 0, 4, 3, 8, 0]),
        "readonly_redirect": bytes([0, 1] + ready + [9, 1, 4, 2, 9, 0, 4, 0, 1, 0, 4, 0, 32, 0, 6, 8, 8]),
        "replica_role": bytes([1, 1, 6, 4, 0, 0, 0, 4, 0, 29, 0, 6, 4, 2, 5, 0, 9, 0, 4, 2, 8, 0]),
        "replica_sdown": bytes([1, 1, 6, 4, 0, 0, 0, 4, 0, 29, 0, 6, 4, 2, 5, 0, 4, 1, 27, 0, 8, 8]),
        "resp3_hello": bytes([2, 1, 6, 4, 0, 0, 0, 4, 0, 33, 0, 6, 4, 2, 14, 0, 4, 2, 4, 0, 9, 2, 4, 2, 7, 0]),
        "resp3_fallback": bytes([2, 1, 6, 4, 0, 0, 0, 4, 0, 31, 0, 6, 4, 2, 12, 0, 4, 2, 4, 0, 9, 2]),
        "auth_and_db": bytes([12, 1, 6, 4, 0, 6, 0, 4, 0, 0, 0, 4, 0, 31, 0, 6, 4, 2, 6, 0, 4, 2, 6, 0, 4, 2, 6, 0,
                              4, 2, 4, 0, 9, 0]),
        "noauth": bytes([4, 1, 6, 4, 0, 6, 0, 4, 0, 0, 0, 4, 0, 31, 0, 6, 4, 2, 13, 0, 9, 0]),
        "no_sentinels": bytes([0, 0, 9, 0, 8, 8, 7, 9, 8]),
        "unknown_service": bytes([32, 3, 6, 4, 0, 3, 0, 4, 0, 34, 0, 6, 4, 0, 3, 0, 4, 0, 34, 0,
                                   6, 4, 0, 3, 0, 4, 0, 34, 0, 8, 8]),
        "connect_failures": bytes([32, 2, 2, 0, 8, 2, 0, 8, 2, 0, 9, 0, 8, 8, 8]),
        "subscribe_and_move": bytes([0, 1] + ready + [10, 0, 6, 4, 3, 4, 0, 4, 3, 15, 0, 4, 3, 16, 0,
                                                    4, 1, 17, 0, 6, 4, 4, 4, 0, 10, 5]),
        "garbage_on_every_conn": bytes([0, 1] + ready + [3, 0, 5, 0xff, 0, 0x24, 0x2a, 0x2d,
                                                       3, 1, 4, 0x2a, 0x39, 0x39, 0x0d,
                                                       3, 2, 3, 0x3e, 0x31, 0x0a]),
        "split_snippet": bytes([0, 1, 6, 4, 0, 0, 210, 4, 0, 0, 0, 4, 0, 31, 0, 6, 4, 2, 4, 220, 4, 2, 4, 0]),
        "foreign_conns": bytes([0, 1, 0, 0x85, 1, 0x86, 4, 0x81, 6, 0, 3, 0x9f, 2, 0x2b, 0x4f, 6]),
        "close_midway": bytes([0, 1] + ready + [9, 0, 9, 1, 11, 0xff, 9, 2, 6, 4, 2, 6, 0]),
        "zero_intervals": bytes([96, 1] + ready + [4, 1, 19, 0, 6, 4, 3, 5, 0, 8, 8, 7, 0, 8]),
        "health_check": bytes([32, 1] + ready + [7, 7, 7, 7, 4, 2, 6, 0, 7, 8, 8]),
        "new_sentinels": bytes([0, 1, 6, 4, 0, 0, 0, 4, 0, 31, 0, 4, 0, 30, 0, 4, 1, 26, 0, 7, 11, 8]),
    }
    return out


def mux():
    # Steps of three bytes (see core/src/fuzzing/mux_target.rs): opcode, member or connection,
    # snippet or sentinel. Opcodes: 0 open query, 1 open notices, 2 write snippet, 3 leave,
    # 4 connected, 5 receive snippet, 6 half a snippet, 7 closed, 8 the step's bytes, 9 write
    # half. Snippets: 0 get-master, 1 AUTH pw, 2 SUBSCRIBE, 3 AUTH other, 4 master address,
    # 5 +OK, 6 WRONGPASS, 7 subscribe ack, 8 message, 9 push, 10 endless array, 11 garbage.
    # Connection ids start at 1; operand a maps to ConnId(a % 8 + 1).
    def steps(*s):
        return bytes(b for step in s for b in step)
    two_queries = [(0, 0, 0), (0, 1, 0), (4, 0, 0), (2, 0, 0), (2, 1, 0)]
    two_notices = [(1, 0, 0), (1, 1, 0), (4, 0, 0), (2, 0, 1), (2, 0, 2)]
    return {
        "queries_answered": steps(*two_queries, (5, 0, 4), (5, 0, 4)),
        "queries_split": steps(*two_queries, (6, 0, 4), (5, 0, 4), (6, 0, 4)),
        "query_member_leaves": steps(*two_queries, (3, 0, 0), (5, 0, 4), (5, 0, 4)),
        "query_retired": steps(*two_queries, (3, 0, 0), (0, 2, 0), (4, 1, 0), (2, 2, 0), (5, 1, 4)),
        "stray_reply": steps(*two_queries, (5, 0, 4), (5, 0, 4), (5, 0, 5)),
        "query_garbage": steps(*two_queries, (5, 0, 11)),
        "query_endless": steps(*two_queries, (5, 0, 10)) + bytes([5, 0, 4] * 40),
        "query_push": steps(*two_queries, (5, 0, 9), (5, 0, 4)),
        "query_closed": steps(*two_queries, (7, 0, 0), (2, 0, 0)),
        "two_sentinels": steps((0, 0, 0), (0, 1, 1), (4, 0, 0), (4, 1, 0), (2, 0, 0), (2, 1, 0), (5, 1, 4)),
        "notices_shared": steps(*two_notices, (5, 0, 5), (5, 0, 7), (2, 1, 1), (2, 1, 2), (5, 0, 8)),
        "notices_follower_first": steps(*two_notices, (2, 1, 1), (5, 0, 5), (2, 1, 2), (5, 0, 8)),
        "notices_wrong_password": steps(*two_notices, (5, 0, 6), (2, 1, 1), (3, 0, 0), (5, 0, 8)),
        "notices_solo": steps(*two_notices, (5, 0, 5), (2, 1, 3), (4, 1, 0), (5, 1, 5), (5, 1, 7), (5, 0, 8)),
        "notices_solo_before_open": steps(*two_notices, (2, 1, 1), (2, 1, 3), (5, 1, 5), (4, 1, 0), (5, 1, 5)),
        "notices_writer_leaves": steps(*two_notices, (3, 0, 0), (5, 0, 5), (2, 1, 1), (2, 1, 2), (5, 0, 8)),
        "notices_push": steps(*two_notices, (5, 0, 5), (5, 0, 9), (5, 0, 8)),
        "notices_garbage": steps(*two_notices, (5, 0, 5), (5, 0, 11)),
        "notices_half_writes": steps((1, 0, 0), (4, 0, 0), (9, 0, 1), (9, 0, 1), (2, 0, 2), (5, 0, 5)),
        "reopen": steps(*two_queries, (0, 0, 0), (0, 0, 1), (3, 0, 0), (3, 1, 0), (0, 3, 0), (4, 1, 0)),
        "raw_bytes": steps(*two_queries) + bytes([8, 0, 0x2a, 8, 0, 0x0d, 8, 0, 0x24]),
        "unknown_conns": steps((4, 7, 0), (5, 6, 4), (7, 5, 0), (2, 4, 0), (3, 4, 0)),
    }


def write(target, files):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(d, name), "wb") as fh:
            fh.write(data)


if __name__ == "__main__":
    write("decode", DECODE)
    write("decode_split", decode_split())
    write("roundtrip", roundtrip())
    write("machine", machine())
    write("mux", mux())
