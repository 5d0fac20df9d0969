#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/ (run from fuzz/). Deterministic.

decode:       raw RESP bytes, one meaningful case per file.
decode_split: byte 0 = number of chunk sizes (mod 17), then the sizes, then a RESP payload.
roundtrip:    bytes the value builder in core/src/fuzzing.rs reads (type tag, size, content).
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
