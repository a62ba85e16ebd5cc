#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes the seed corpora and dictionaries of the fuzz targets (docs/fuzzing.md).

    python3 tests/fuzz/make_seeds.py            # rewrites tests/fuzz/corpus/* and dict/*
    python3 tests/fuzz/make_seeds.py --check    # fails if a command has no example

The command seeds come from the command table (gateway/command_table.cc): one file per example
in EXAMPLES below, and every row of the table must have at least one example, so a new command
gets a seed (--check, which run.sh does not need, says which are missing). The other seeds are
hand-written edge cases. Files named by a SHA-1 are inputs kept from long fuzzing runs and are
left alone. The output is committed; run.sh only reads it.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TABLE = os.path.join(ROOT, "gateway", "command_table.cc")

# Plausible arguments per table row ("container|sub" rows start with both words).
EXAMPLES = {
    "client|id": [[]],
    "client|setname": [["fuzzer"]],
    "client|getname": [[]],
    "client|setinfo": [["LIB-NAME", "fuzz"], ["LIB-VER", "1.0"]],
    "client|reply": [["SKIP"], ["OFF"], ["ON"]],
    "client|info": [[]],
    "client|list": [[], ["TYPE", "normal"], ["ID", "1", "2"]],
    "pubsub|channels": [[], ["news*"]],
    "pubsub|numsub": [["news", "other"]],
    "pubsub|numpat": [[]],
    "acl|cat": [[], ["string"]],
    "acl|deluser": [["alice", "bob"]],
    "acl|dryrun": [["default", "get", "key"]],
    "acl|genpass": [[], ["64"]],
    "acl|getuser": [["default"]],
    "acl|list": [[]],
    "acl|load": [[]],
    "acl|log": [[], ["RESET"]],
    "acl|save": [[]],
    "acl|setuser": [["alice", "on", ">secret", "~key*", "+get", "+@string"],
                    ["bob", "reset", "nopass", "allkeys", "-@all"]],
    "acl|users": [[]],
    "acl|whoami": [[]],
    "config|get": [["*"], ["notify-keyspace-events"], ["maxclients", "proto*"]],
    "config|set": [["notify-keyspace-events", "KEA"], ["maxclients", "100"],
                   ["client-output-buffer-limit", "pubsub 1024 512 1"]],
    "config|resetstat": [[]],
    "config|rewrite": [[]],
    "command|count": [[]],
    "command|info": [["get", "set", "client|list"]],
    "command|docs": [["get"]],
    "command|list": [[], ["FILTERBY", "PATTERN", "g*"], ["FILTERBY", "ACLCAT", "string"]],
    "object|encoding": [["key"]],
    "object|freq": [["key"]],
    "object|idletime": [["key"]],
    "object|refcount": [["key"]],
    "object|help": [[]],
    "function|flush": [[], ["ASYNC"]],
    "multi": [[]],
    "exec": [[]],
    "discard": [[]],
    "watch": [["key", "num"]],
    "unwatch": [[]],
    "subscribe": [["news", "__keyspace@0__:key"]],
    "psubscribe": [["news*", "__keyevent@0__:*"]],
    "unsubscribe": [[], ["news"]],
    "punsubscribe": [[], ["news*"]],
    "publish": [["news", "hello"]],
    "pubsub": [["HELP"]],
    "ping": [[], ["hello"]],
    "echo": [["hello"]],
    "quit": [[]],
    "reset": [[]],
    "hello": [[], ["3"], ["2"], ["3", "SETNAME", "fuzzer"], ["3", "AUTH", "default", "pw"]],
    "auth": [["pw"], ["default", "pw"]],
    "select": [["1"], ["16"]],
    "client": [["HELP"]],
    "info": [[], ["server"], ["keyspace", "stats"]],
    "config": [["HELP"]],
    "acl": [["HELP"]],
    "command": [[]],
    "time": [[]],
    "function": [["HELP"]],
    "cluster": [["INFO"], ["SLOTS"]],
    "get": [["key"]],
    "set": [["key", "v"], ["key", "v", "EX", "10"], ["key", "v", "PX", "100", "NX"],
            ["key", "v", "XX", "GET"], ["key", "v", "KEEPTTL"], ["key", "v", "EXAT", "4102444800"],
            ["key", "v", "PXAT", "4102444800000"]],
    "setnx": [["key", "v"]],
    "setex": [["key", "10", "v"]],
    "psetex": [["key", "1000", "v"]],
    "getset": [["key", "v"]],
    "getdel": [["key"]],
    "getex": [["key", "EX", "10"], ["key", "PERSIST"]],
    "mget": [["key", "num", "missing"]],
    "msetnx": [["a", "1", "b", "2"]],
    "mset": [["a", "1", "b", "2"]],
    "append": [["key", "more"]],
    "strlen": [["key"]],
    "getrange": [["key", "0", "-1"]],
    "substr": [["key", "1", "3"]],
    "setrange": [["key", "5", "xyz"]],
    "lcs": [["key", "k2"], ["key", "k2", "LEN"],
            ["key", "k2", "IDX", "MINMATCHLEN", "1", "WITHMATCHLEN"]],
    "incr": [["num"]],
    "decr": [["num"]],
    "incrby": [["num", "5"]],
    "decrby": [["num", "5"]],
    "incrbyfloat": [["num", "1.5"]],
    "setbit": [["bits", "7", "1"]],
    "getbit": [["bits", "7"]],
    "bitcount": [["key"], ["key", "0", "-1", "BIT"]],
    "bitpos": [["bits", "1"], ["bits", "0", "0", "-1", "BYTE"]],
    "bitop": [["AND", "dest", "key", "k2"], ["NOT", "dest", "key"]],
    "bitfield": [["bits", "SET", "u8", "0", "255", "GET", "i4", "0", "INCRBY", "u2", "100", "1",
                  "OVERFLOW", "SAT"]],
    "bitfield_ro": [["bits", "GET", "u8", "0"]],
    "expire": [["key", "100"], ["key", "100", "NX"]],
    "pexpire": [["key", "100000", "GT"]],
    "expireat": [["key", "4102444800"]],
    "pexpireat": [["key", "4102444800000", "LT"]],
    "ttl": [["key"]],
    "pttl": [["key"]],
    "expiretime": [["key"]],
    "pexpiretime": [["key"]],
    "persist": [["key"]],
    "type": [["key"]],
    "unlink": [["key", "k2"]],
    "touch": [["key", "k2"]],
    "rename": [["key", "newkey"]],
    "renamenx": [["key", "newkey"]],
    "copy": [["key", "dst"], ["key", "dst", "DB", "1", "REPLACE"]],
    "move": [["key", "1"]],
    "swapdb": [["0", "1"]],
    "object": [["HELP"]],
    "dbsize": [[]],
    "keys": [["*"], ["k?y"], ["[a-z]*"]],
    "scan": [["0"], ["0", "MATCH", "k*", "COUNT", "10", "TYPE", "string"]],
    "randomkey": [[]],
    "flushdb": [[], ["ASYNC"]],
    "flushall": [[], ["SYNC"]],
    "del": [["key", "k2"]],
    "exists": [["key", "k2"]],
}

# Written before every command seed, so reads find values.
PROLOGUE = [["SET", "key", "hello"], ["SET", "k2", "world"], ["SET", "num", "10"]]


def table_rows():
    """(name, arity) of every row of the command table, subcommands as 'container|sub'."""
    with open(TABLE, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r'^\s*\{"([a-z_|-]+)",\s*(-?\d+),', text, re.M)


def mb(argv):
    """RESP multibulk encoding of one request (argv: str or bytes)."""
    out = b"*%d\r\n" % len(argv)
    for a in argv:
        a = a.encode() if isinstance(a, str) else a
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def pipeline(*requests):
    return b"".join(mb(r) for r in requests)


def command_argv(name, args):
    return name.upper().split("|") + list(args)


DISPATCH_EXTRA = {
    # inline requests, blank lines, quoting
    "inline-ping": b"PING\r\n",
    "inline-quoted": b'SET key "a b\\x00\\n" \r\nGET key\r\nSET \'k 2\' v\nEXISTS key \'k 2\'\n',
    "inline-blank-lines": b"\r\n\n  \r\nPING\r\n",
    "mixed-inline-multibulk": b"PING\r\n" + mb(["ECHO", "x"]) + b"GET key\n",
    # pipelines that the key-ordering rules must keep in order
    "pipeline-same-key": pipeline(["SET", "k", "1"], ["INCR", "k"], ["GET", "k"],
                                  ["APPEND", "k", "x"], ["GET", "k"], ["DEL", "k"], ["GET", "k"]),
    "pipeline-blind-writes": pipeline(["SET", "k", "a"], ["SET", "k", "b"],
                                      ["MSET", "k", "c", "j", "d"], ["MGET", "k", "j"], ["DBSIZE"],
                                      ["KEYS", "*"]),
    "pipeline-barriers": pipeline(["SET", "a", "1"], ["FLUSHDB"], ["SET", "b", "2"], ["SCAN", "0"],
                                  ["RANDOMKEY"], ["COPY", "b", "c"], ["MOVE", "c", "3"],
                                  ["SELECT", "3"], ["GET", "c"], ["SWAPDB", "0", "3"]),
    "pipeline-expire": pipeline(["SET", "t", "v", "PX", "1"], ["PTTL", "t"], ["EXPIRE", "t", "0"],
                                ["GET", "t"], ["SET", "t", "v"], ["PERSIST", "t"], ["TTL", "t"]),
    "multi-exec": pipeline(["MULTI"], ["SET", "k", "1"], ["INCR", "k"], ["GET", "k"], ["EXEC"]),
    "multi-error": pipeline(["MULTI"], ["SET", "k"], ["INCR", "k"], ["EXEC"], ["DISCARD"]),
    "watch-exec": pipeline(["WATCH", "k"], ["SET", "k", "changed"], ["MULTI"], ["GET", "k"],
                           ["EXEC"]),
    "resp3": pipeline(["HELLO", "3"], ["CONFIG", "GET", "maxclients"], ["SET", "f", "1.5"],
                      ["INCRBYFLOAT", "f", "1e3"], ["LCS", "key", "k2", "IDX"], ["CLIENT", "INFO"],
                      ["HELLO", "2"], ["GET", "f"]),
    "keyspace-notifications": pipeline(["CONFIG", "SET", "notify-keyspace-events", "KEA"],
                                       ["SUBSCRIBE", "__keyspace@0__:key"], ["PING"],
                                       ["UNSUBSCRIBE"], ["SET", "key", "v"]),
    "binary-keys": pipeline([b"SET", b"\x00\xff:a.b*>", b"\r\n\x00"], [b"GET", b"\x00\xff:a.b*>"],
                            [b"SET", b"", b"empty key"], [b"GET", b""], [b"KEYS", b"*"],
                            [b"SET", b"=_internal", b"x"], [b"SCAN", b"0", b"MATCH", b"\x00*"]),
    "unknown-and-arity": pipeline(["NOSUCH", "a", "b"], ["GET"], ["GET", "a", "b"],
                                  ["CLIENT", "NOSUCH"], ["CONFIG"], ["SET", "k", "v", "EX", "0"],
                                  ["SET", "k", "v", "NX", "XX"]),
    "big-numbers": pipeline(["SET", "n", "9223372036854775807"], ["INCR", "n"],
                            ["DECRBY", "n", "-9223372036854775808"],
                            ["SETRANGE", "n", "65536", "x"], ["SETBIT", "n", "4294967296", "1"],
                            ["GETRANGE", "n", "-9223372036854775808", "-1"],
                            ["EXPIRE", "n", "9223372036854775807"], ["INCRBYFLOAT", "n", "inf"]),
    # protocol errors: one error reply, then the connection closes
    "proto-negative-bulk": b"*1\r\n$-5\r\nPING\r\n",
    "proto-huge-multibulk": b"*2147483648\r\n",
    "proto-huge-bulk": b"*1\r\n$536870912\r\n",
    "proto-over-64k-bulk": b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$65537\r\n",
    "proto-expected-dollar": b"PING\r\n*1\r\nX\r\n",
    "proto-unbalanced": b'PING\r\nSET "a\r\n',
    "proto-after-requests": pipeline(["SET", "k", "v"], ["GET", "k"]) + b"*1\r\n$x\r\n",
    "partial-request": pipeline(["SET", "k", "v"]) + b"*2\r\n$3\r\nGET\r\n$1\r\n",
    "empty-multibulk": b"*0\r\n*-1\r\n" + mb(["PING"]),
}

PARSER_SEEDS = {
    "multibulk": mb(["SET", "key", "value"]),
    "pipeline": pipeline(["GET", "a"], ["SET", "b", "x" * 40], ["DEL", "a", "b", "c"]),
    "inline": b"SET key value\r\n",
    "inline-lf": b"GET key\nGET other\n",
    "inline-quotes": b'SET "a \\"b\\" \\x41\\n\\t" \'it\\\'s\' done\r\n',
    "inline-unbalanced": b'SET "abc\r\n',
    "inline-quote-then-text": b'SET "a"b\r\n',
    "inline-vt-ff": b"\x0bPING\x0c x\x0by\r\n",
    "blank-lines": b"\r\n\n \t\r\n" + mb(["PING"]),
    "empty-multibulk": b"*0\r\n*-1\r\n*-0\r\n",
    "negative-bulk": b"*1\r\n$-1\r\n",
    "huge-multibulk": b"*2147483648\r\n",
    "max-multibulk": b"*2147483647\r\n$1\r\na\r\n",
    "eleven-args": mb(["a"] * 11),
    "huge-bulk": b"*1\r\n$536870913\r\n",
    "bulk-16385": b"*1\r\n$16385\r\n",
    "bulk-101": b"*1\r\n$101\r\n" + b"x" * 101 + b"\r\n",
    "plus-sign": b"*+1\r\n$1\r\na\r\n",
    "leading-zero": b"*01\r\n$01\r\na\r\n",
    "not-dollar": b"*1\r\n:1\r\n",
    "empty-header": b"*1\r\n\r\n",
    "lf-header": b"*1\r\n\n\r\n",
    "bad-crlf-after-bulk": b"*1\r\n$1\r\naXY*1\r\n$1\r\nb\r\n",
    "cr-only": b"*1\r$1\ra\r\n",
    "nul-in-line": b"PING\x00\r\nPING\r\n",
    "nul-in-header": b"*1\x00\r\n",
    "binary-bulk": b"*2\r\n$4\r\n\x00\r\n\xff\r\n$0\r\n\r\n",
    "partial": b"*3\r\n$3\r\nSET\r\n$3\r\nke",
    "int64-overflow": b"*9223372036854775808\r\n",
    "int64-min": b"*-9223372036854775808\r\n",
}

KEY_SEEDS = {
    "empty": b"",
    "colon": b":",
    "user": b"user:1000:name",
    "double-colon": b"a::b:",
    "space": b"a b",
    "dots": b"a.b..c",
    "wildcards": b"*>?",
    "utf8": "clé:日本".encode(),
    "internal": b"=_config",
    "escaped": b"=41",
    "lower-hex": b"a=3a",
    "all-literals": b"AZaz09_/-",
    "control": bytes(range(0, 32)),
    "high": bytes(range(200, 256)),
    "token-equals": b"a.=.b",
}

# Replies a server sends (reply_parser_fuzz.cc): every RESP2 and RESP3 type, nested aggregates,
# nils, a large bulk, and garbage, cut-off and split cases.
def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


REPLY_SEEDS = {
    "status": b"+OK\r\n+QUEUED\r\n+\r\n",
    "error": b"-ERR unknown command 'foo', with args beginning with: \r\n-WRONGTYPE x\r\n",
    "integers": b":0\r\n:-1\r\n:42\r\n:9223372036854775807\r\n:-9223372036854775808\r\n",
    "integer-lenient": b":+5\r\n:007\r\n:-0\r\n",
    "integer-overflow": b":9223372036854775808\r\n",
    "bulk": bulk(b"hello") + b"$0\r\n\r\n",
    "bulk-binary": bulk(b"a\r\nb\x00c\xff*1\r\n"),
    "bulk-large": bulk(bytes(i % 251 for i in range(3000))),
    "nil-forms": b"$-1\r\n*-1\r\n_\r\n",
    "array": b"*3\r\n$3\r\nfoo\r\n:1\r\n+OK\r\n*0\r\n",
    "array-of-nils": b"*4\r\n$-1\r\n*-1\r\n_\r\n$0\r\n\r\n",
    "nested": b"*2\r\n*2\r\n:1\r\n:2\r\n*2\r\n*0\r\n*1\r\n-ERR x\r\n",
    "depth-32": b"*1\r\n" * 32 + b":1\r\n",
    "depth-33": b"*1\r\n" * 33 + b":1\r\n",
    "depth-32-empty": b"*1\r\n" * 32 + b"*0\r\n",
    "mget": b"*3\r\n" + bulk(b"v1") + b"$-1\r\n" + bulk(b"v3"),
    "scan": b"*2\r\n" + bulk(b"17") + b"*3\r\n" + bulk(b"key:1") + bulk(b"key:2") + bulk(b"k"),
    "exec": b"*3\r\n+OK\r\n:2\r\n-WRONGTYPE Operation against a key\r\n*-1\r\n",
    "resp3-scalars": b"_\r\n#t\r\n#f\r\n,3.14\r\n,inf\r\n,-inf\r\n,nan\r\n,1e308\r\n"
                     b"(3492890328409238509324850943850943825024385\r\n(-1\r\n",
    "verbatim": b"=15\r\ntxt:Some string\r\n=4\r\nmkd:\r\n",
    "blob-error": b"!21\r\nSYNTAX invalid syntax\r\n",
    "map": b"%2\r\n+first\r\n:1\r\n+second\r\n%1\r\n$1\r\nk\r\n~2\r\n#t\r\n_\r\n",
    "set": b"~3\r\n+a\r\n:1\r\n,2.5\r\n~0\r\n%0\r\n",
    "push": b">3\r\n" + bulk(b"message") + bulk(b"news") + bulk(b"hello"),
    "hello3": b"%7\r\n" + bulk(b"server") + bulk(b"redis") + bulk(b"version") + bulk(b"7.0.15")
              + bulk(b"proto") + b":3\r\n" + bulk(b"id") + b":5\r\n" + bulk(b"mode")
              + bulk(b"standalone") + bulk(b"role") + bulk(b"master") + bulk(b"modules")
              + b"*0\r\n",
    "attribute": b"|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n"
                 b",0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
    "attribute-nested": b"*2\r\n|1\r\n+a\r\n|0\r\n+b\r\n:1\r\n|0\r\n:2\r\n",
    "attribute-of-attribute": b"|1\r\n|1\r\n+k\r\n+v\r\n+k2\r\n+v2\r\n+value\r\n",
    # garbage, cut-off and split cases
    "cut-bulk": b"+OK\r\n$10\r\nhel",
    "cut-array": b"*3\r\n:1\r\n$2\r\nab\r\n",
    "cut-cr": b"+OK\r",
    "bulk-no-cr": b"$1\r\naX",
    "bulk-bad-crlf": b"$3\r\nabcXY+OK\r\n",
    "cr-without-lf": b"+OK\rX\r\n",
    "lf-in-line": b"+a\nb\r\n-\r\n",
    "unknown-type": b"+OK\r\nhello\r\n",
    "negative-lengths": b"$-2\r\n",
    "negative-count": b"*-2\r\n",
    "null-map": b"%-1\r\n",
    "verbatim-no-format": b"=3\r\nabc\r\n",
    "bad-resp3": b"#x\r\n_x\r\n,\r\n(\r\n(1a\r\n",
    "long-header": b":" + b"1" * 70 + b"\r\n",
    "long-header-cut": b"*" + b"9" * 66,
    "huge-bulk": b"$536871937\r\n",
    "huge-count": b"*16777217\r\n",
    "int64-count": b"%4611686018427387904\r\n",
    "nul": b":1\r\n\x00",
}

# Reply writer programs (op byte, then operands; see reply_writer_fuzz.cc).
WRITER_SEEDS = {
    "scalars": bytes([0, 2, 79, 75, 1, 3, 69, 82, 82, 2] + [0x80] + [0] * 7 +
                     [3, 3, 97, 98, 99, 4, 5]),
    "aggregates": bytes([6, 2, 3, 1, 120, 7, 1, 0, 1, 107, 2, 0, 0, 0, 0, 0, 0, 0, 42, 8, 1, 12, 1,
                         9, 1, 0, 0]),
    "resp3": bytes([10, 1, 0, 1, 107, 3, 1, 118, 3, 2, 104, 105, 11, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0,
                    11, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0, 13, 3, 1, 2, 3, 14, 1, 2, 104, 105, 15, 3, 69,
                    13, 10]),
    "crlf-in-error": bytes([1, 6, 69, 82, 82, 13, 10, 120]),
}


def write_dir(path, files):
    """Replaces the hand-made seeds in path. Files named by a 40-digit SHA-1 are inputs that
    long fuzzing runs found (minimized with libFuzzer's -merge=1, docs/fuzzing.md): kept."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if not re.fullmatch(r"[0-9a-f]{40}", name):
            os.remove(os.path.join(path, name))
    for name, data in files.items():
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def main():
    rows = table_rows()
    missing = [name for name, _ in rows if name not in EXAMPLES]
    if "--check" in sys.argv:
        if missing:
            print("no example for: " + ", ".join(missing))
            return 1
        print("%d table rows, all with examples" % len(rows))
        return 0
    dispatch = {}
    for name, arity in rows:
        examples = EXAMPLES.get(name)
        if examples is None:  # a new row: arguments by arity, until someone adds an example
            n = abs(int(arity)) - len(name.split("|"))
            examples = [["key"] * max(n, 0)]
            print("warning: no example for %s; using %s" % (name, examples[0]), file=sys.stderr)
        for i, args in enumerate(examples):
            data = pipeline(*PROLOGUE, command_argv(name, args), ["GET", "key"])
            dispatch["cmd-%s-%d" % (name.replace("|", "-"), i)] = data
    dispatch.update(DISPATCH_EXTRA)
    corpus = os.path.join(HERE, "corpus")
    write_dir(os.path.join(corpus, "dispatch"), dispatch)
    write_dir(os.path.join(corpus, "request_parser"), PARSER_SEEDS)
    write_dir(os.path.join(corpus, "key_codec"), KEY_SEEDS)
    write_dir(os.path.join(corpus, "reply_writer"), WRITER_SEEDS)
    write_dir(os.path.join(corpus, "reply_parser"), REPLY_SEEDS)

    # The dispatch dictionary: every command and subcommand name, and the usual option words.
    words = sorted({w for name, _ in rows for w in name.split("|")})
    options = ["EX", "PX", "EXAT", "PXAT", "NX", "XX", "GT", "LT", "GET", "KEEPTTL", "PERSIST",
               "LEN", "IDX", "MINMATCHLEN", "WITHMATCHLEN", "BIT", "BYTE", "AND", "OR", "XOR",
               "NOT", "OVERFLOW", "WRAP", "SAT", "FAIL", "INCRBY", "SET", "u8", "i64", "MATCH",
               "COUNT", "TYPE", "DB", "REPLACE", "ASYNC", "SYNC", "AUTH", "SETNAME", "ON", "OFF",
               "SKIP", "__keyspace@0__:", "__keyevent@0__:", "notify-keyspace-events", "KEA",
               "-1", "0", "9223372036854775807", "-9223372036854775808", "inf", "1e308"]
    crlf = "\\x0d\\x0a"  # libFuzzer dictionaries spell bytes as \xNN only
    framing = [crlf, "*1" + crlf, "*2" + crlf, "*3" + crlf, "$1" + crlf, "$-1" + crlf, "\\x22"]
    os.makedirs(os.path.join(HERE, "dict"), exist_ok=True)
    with open(os.path.join(HERE, "dict", "dispatch.dict"), "w", encoding="utf-8") as f:
        f.write("# Generated by tests/fuzz/make_seeds.py from the command table.\n")
        for w in words + options + framing:
            f.write('"%s"\n' % w)  # none holds a quote; framing is already escaped
    print("dispatch: %d seeds (%d table rows), request_parser: %d, key_codec: %d, reply_writer: %d,"
          " reply_parser: %d" % (len(dispatch), len(rows), len(PARSER_SEEDS), len(KEY_SEEDS),
                                 len(WRITER_SEEDS), len(REPLY_SEEDS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
