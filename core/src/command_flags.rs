//! Which commands write and which only read, by the servers' own flags (`COMMAND`): a replica
//! client refuses writes wherever it is connected, and read routing can tell reads apart.
//!
//! The tables were generated from `COMMAND` of Redis 7.0 and Valkey 9.1 (the two agree on every
//! command both have); `tests/tests/command_flags.rs` checks them against the server it runs
//! on, so a server that flags a command differently fails the suite rather than routing it wrong.
//! A container's subcommands are listed as `container|subcommand` (`xgroup|create`).

use crate::Cmd;

/// True when the server flags `cmd` `write` or `may_replicate`: it changes data (or may), so
/// it must go to the master.
pub fn writes(cmd: &Cmd) -> bool {
    lookup(cmd, WRITES)
}

/// True when the server flags `cmd` `readonly` (and not `write`): a replica can answer it.
/// Commands in neither table (`PING`, `INFO`, `EVAL`...) are neither reads nor writes by flags.
pub fn reads_only(cmd: &Cmd) -> bool {
    lookup(cmd, READ_ONLY)
}

/// Looks `cmd`'s name (then `name|first-argument`) up in `table`, without regard to case and
/// without allocating.
fn lookup(cmd: &Cmd, table: &[&str]) -> bool {
    let mut words = cmd.words();
    let Some(name) = words.next() else {
        return false;
    };
    let mut buf = [0u8; 64];
    let Some(n) = lower_into(&mut buf, 0, name) else {
        return false;
    };
    if found(table, &buf[..n]) {
        return true;
    }
    let Some(sub) = words.next() else {
        return false;
    };
    let Some(n) = lower_into(&mut buf, n, b"|").and_then(|n| lower_into(&mut buf, n, sub)) else {
        return false;
    };
    found(table, &buf[..n])
}

/// Writes `word` lowercased into `buf` at `at`; the new end, or `None` when it does not fit
/// (no command name is that long).
fn lower_into(buf: &mut [u8; 64], at: usize, word: &[u8]) -> Option<usize> {
    let end = at.checked_add(word.len()).filter(|&e| e <= buf.len())?;
    for (d, s) in buf[at..end].iter_mut().zip(word) {
        *d = s.to_ascii_lowercase();
    }
    Some(end)
}

fn found(table: &[&str], key: &[u8]) -> bool {
    table.binary_search_by(|e| e.as_bytes().cmp(key)).is_ok()
}

/// Every name in either table (for the test that compares them with a server).
pub fn known() -> impl Iterator<Item = &'static str> {
    WRITES.iter().chain(READ_ONLY).copied()
}

/// Commands (and `container|subcommand`s) flagged `write` or `may_replicate`, sorted.
const WRITES: &[&str] = &[
    "append",
    "bitfield",
    "bitop",
    "blmove",
    "blmpop",
    "blpop",
    "brpop",
    "brpoplpush",
    "bzmpop",
    "bzpopmax",
    "bzpopmin",
    "cluster|flushslot",
    "copy",
    "decr",
    "decrby",
    "del",
    "delifeq",
    "expire",
    "expireat",
    "flushall",
    "flushdb",
    "function|delete",
    "function|flush",
    "function|load",
    "function|restore",
    "geoadd",
    "georadius",
    "georadiusbymember",
    "geosearchstore",
    "getdel",
    "getex",
    "getset",
    "hdel",
    "hexpire",
    "hexpireat",
    "hgetdel",
    "hgetex",
    "hincrby",
    "hincrbyfloat",
    "hmset",
    "hpersist",
    "hpexpire",
    "hpexpireat",
    "hset",
    "hsetex",
    "hsetnx",
    "incr",
    "incrby",
    "incrbyfloat",
    "linsert",
    "lmove",
    "lmpop",
    "lpop",
    "lpush",
    "lpushx",
    "lrem",
    "lset",
    "ltrim",
    "migrate",
    "move",
    "mset",
    "msetex",
    "msetnx",
    "persist",
    "pexpire",
    "pexpireat",
    "pfadd",
    "pfdebug",
    "pfmerge",
    "psetex",
    "rename",
    "renamenx",
    "restore",
    "restore-asking",
    "rpop",
    "rpoplpush",
    "rpush",
    "rpushx",
    "sadd",
    "sdiffstore",
    "set",
    "setbit",
    "setex",
    "setnx",
    "setrange",
    "sinterstore",
    "smove",
    "sort",
    "spop",
    "srem",
    "sunionstore",
    "swapdb",
    "unlink",
    "xack",
    "xadd",
    "xautoclaim",
    "xclaim",
    "xdel",
    "xgroup|create",
    "xgroup|createconsumer",
    "xgroup|delconsumer",
    "xgroup|destroy",
    "xgroup|setid",
    "xreadgroup",
    "xsetid",
    "xtrim",
    "zadd",
    "zdiffstore",
    "zincrby",
    "zinterstore",
    "zmpop",
    "zpopmax",
    "zpopmin",
    "zrangestore",
    "zrem",
    "zremrangebylex",
    "zremrangebyrank",
    "zremrangebyscore",
    "zunionstore",
];

/// Commands flagged `readonly` and neither `write` nor `may_replicate`, sorted.
const READ_ONLY: &[&str] = &[
    "bitcount",
    "bitfield_ro",
    "bitpos",
    "clusterscan",
    "dbsize",
    "dump",
    "eval_ro",
    "evalsha_ro",
    "exists",
    "expiretime",
    "fcall_ro",
    "geodist",
    "geohash",
    "geopos",
    "georadius_ro",
    "georadiusbymember_ro",
    "geosearch",
    "get",
    "getbit",
    "getrange",
    "hexists",
    "hexpiretime",
    "hget",
    "hgetall",
    "hkeys",
    "hlen",
    "hmget",
    "hpexpiretime",
    "hpttl",
    "hrandfield",
    "hscan",
    "hstrlen",
    "httl",
    "hvals",
    "keys",
    "lcs",
    "lindex",
    "llen",
    "lolwut",
    "lpos",
    "lrange",
    "memory|usage",
    "mget",
    "object|encoding",
    "object|freq",
    "object|idletime",
    "object|refcount",
    "pexpiretime",
    "pfcount",
    "pttl",
    "randomkey",
    "scan",
    "scard",
    "sdiff",
    "sinter",
    "sintercard",
    "sismember",
    "smembers",
    "smismember",
    "sort_ro",
    "srandmember",
    "sscan",
    "strlen",
    "substr",
    "sunion",
    "touch",
    "ttl",
    "type",
    "xinfo|consumers",
    "xinfo|groups",
    "xinfo|stream",
    "xlen",
    "xpending",
    "xrange",
    "xread",
    "xrevrange",
    "zcard",
    "zcount",
    "zdiff",
    "zinter",
    "zintercard",
    "zlexcount",
    "zmscore",
    "zrandmember",
    "zrange",
    "zrangebylex",
    "zrangebyscore",
    "zrank",
    "zrevrange",
    "zrevrangebylex",
    "zrevrangebyscore",
    "zrevrank",
    "zscan",
    "zscore",
    "zunion",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd;

    #[test]
    fn tables_are_sorted_lowercase_and_disjoint() {
        for t in [WRITES, READ_ONLY] {
            assert!(t.windows(2).all(|w| w[0] < w[1]), "sorted, no repeats");
            assert!(t.iter().all(|n| !n.bytes().any(|b| b.is_ascii_uppercase())));
        }
        assert!(WRITES.iter().all(|w| !READ_ONLY.contains(w)));
    }

    #[test]
    fn names_and_subcommands_are_found_in_any_case() {
        assert!(writes(&cmd("SET").arg("k").arg("v")));
        assert!(writes(&cmd("set").arg("k").arg("v")));
        assert!(writes(
            &cmd("XGROUP").arg("CREATE").arg("s").arg("g").arg("$")
        ));
        assert!(!writes(&cmd("XGROUP").arg("HELP")));
        assert!(writes(&cmd("BLPOP").arg("q").arg(0)));
        assert!(!writes(&cmd("GET").arg("k")));
        assert!(reads_only(&cmd("Get").arg("k")));
        assert!(reads_only(&cmd("EVAL_RO").arg("return 1").arg(0)));
        assert!(reads_only(&cmd("OBJECT").arg("encoding").arg("k")));
        assert!(!reads_only(&cmd("EVAL").arg("return 1").arg(0)));
        assert!(!writes(&cmd("PING")) && !reads_only(&cmd("PING")));
        let long = "x".repeat(100);
        assert!(!writes(&cmd(long.as_str())));
        assert!(!writes(&cmd("XGROUP").arg(long.as_str())));
    }
}
