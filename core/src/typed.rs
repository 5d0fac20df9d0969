//! Typed commands for the common families (strings, hashes, lists, sets, sorted sets, keys and
//! expiry, the SCAN family, scripts), generated from one table below: each builder returns a
//! [`Typed`] command that knows the type its reply converts to, so a client's `run` needs no
//! annotation (`client.run(typed::hget::<String>("h", "f"))` is an `Option<String>`).
//!
//! Arguments that are several words take any iterator: `typed::del(["a", "b"])`,
//! `typed::hset("h", [("f1", "v1"), ("f2", "v2")])`, `typed::zadd("z", [(1.5, "m")])`; a map
//! works where pairs do. Builders with a type parameter (`[T]` in the table) convert the reply
//! (or its elements) into any [`FromValue`] the caller names. A `Typed` is also a [`Cmd`]
//! (`.into()`), for pipelines and transactions, whose replies convert into tuples.

use crate::convert::FromValue;
use crate::resp::{cmd, Arg, Cmd};
use bytes::Bytes;
use std::fmt;
use std::marker::PhantomData;

/// A command and the type its reply converts to.
pub struct Typed<R> {
    cmd: Cmd,
    reply: PhantomData<fn() -> R>,
}

impl<R> Typed<R> {
    /// Wraps a command whose reply converts to `R`.
    pub fn new(cmd: Cmd) -> Typed<R> {
        Typed {
            cmd,
            reply: PhantomData,
        }
    }

    /// The command.
    pub fn cmd(&self) -> &Cmd {
        &self.cmd
    }

    /// The command, without its reply type.
    pub fn into_cmd(self) -> Cmd {
        self.cmd
    }
}

impl<R> From<Typed<R>> for Cmd {
    fn from(t: Typed<R>) -> Cmd {
        t.cmd
    }
}

impl<R> Clone for Typed<R> {
    fn clone(&self) -> Self {
        Typed::new(self.cmd.clone())
    }
}

impl<R> fmt::Debug for Typed<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Typed").field(&self.cmd).finish()
    }
}

/// The Rust type of a parameter of the given kind.
macro_rules! param {
    (one) => { impl Arg };
    (many) => { impl IntoIterator<Item = impl Arg> };
    (pairs) => { impl IntoIterator<Item = (impl Arg, impl Arg)> };
}

/// Appends a parameter of the given kind.
macro_rules! put {
    ($c:ident, one, $p:ident) => {
        $c.arg($p)
    };
    ($c:ident, many, $p:ident) => {
        $c.args($p)
    };
    ($c:ident, pairs, $p:ident) => {
        $c.pairs($p)
    };
}

/// Emits one builder per table entry: `name [T] (param: kind, ...) -> Reply = "COMMAND";`,
/// kinds `one` (one word), `many` (any iterator of words), `pairs` (any iterator of pairs).
macro_rules! builders {
    ($( $(#[doc = $doc:literal])* $name:ident $([$t:ident])? ( $($p:ident : $kind:ident),* )
        -> $ret:ty = $word:literal ; )*) => {$(
        $(#[doc = $doc])*
        pub fn $name $(<$t: FromValue>)? ( $($p: param!($kind)),* ) -> Typed<$ret> {
            let c = cmd($word);
            $( let c = put!(c, $kind, $p); )*
            Typed::new(c)
        }
    )*};
}

builders! {
    // Strings.
    /// `GET key`: `None` when the key does not exist.
    get [T] (key: one) -> Option<T> = "GET";
    /// `SET key value`.
    set (key: one, value: one) -> () = "SET";
    /// `MGET key...`: each value, `None` where a key does not exist.
    mget [T] (keys: many) -> Vec<Option<T>> = "MGET";
    /// `MSET key value...`.
    mset (pairs: pairs) -> () = "MSET";
    /// `GETDEL key`: the value, removed.
    getdel [T] (key: one) -> Option<T> = "GETDEL";
    /// `INCR key`: the new value.
    incr (key: one) -> i64 = "INCR";
    /// `INCRBY key by`: the new value.
    incrby (key: one, by: one) -> i64 = "INCRBY";
    /// `DECR key`: the new value.
    decr (key: one) -> i64 = "DECR";
    /// `DECRBY key by`: the new value.
    decrby (key: one, by: one) -> i64 = "DECRBY";
    /// `INCRBYFLOAT key by`: the new value.
    incrbyfloat (key: one, by: one) -> f64 = "INCRBYFLOAT";
    /// `APPEND key value`: the new length.
    append (key: one, value: one) -> u64 = "APPEND";
    /// `STRLEN key`.
    strlen (key: one) -> u64 = "STRLEN";

    // Hashes.
    /// `HSET key field value...`: how many fields were added.
    hset (key: one, fields: pairs) -> u64 = "HSET";
    /// `HGET key field`.
    hget [T] (key: one, field: one) -> Option<T> = "HGET";
    /// `HMGET key field...`.
    hmget [T] (key: one, fields: many) -> Vec<Option<T>> = "HMGET";
    /// `HGETALL key`, e.g. into a `HashMap<String, String>`.
    hgetall [T] (key: one) -> T = "HGETALL";
    /// `HDEL key field...`: how many were removed.
    hdel (key: one, fields: many) -> u64 = "HDEL";
    /// `HEXISTS key field`.
    hexists (key: one, field: one) -> bool = "HEXISTS";
    /// `HINCRBY key field by`: the new value.
    hincrby (key: one, field: one, by: one) -> i64 = "HINCRBY";
    /// `HLEN key`.
    hlen (key: one) -> u64 = "HLEN";
    /// `HKEYS key`.
    hkeys [T] (key: one) -> Vec<T> = "HKEYS";
    /// `HVALS key`.
    hvals [T] (key: one) -> Vec<T> = "HVALS";

    // Lists.
    /// `LPUSH key value...`: the new length.
    lpush (key: one, values: many) -> u64 = "LPUSH";
    /// `RPUSH key value...`: the new length.
    rpush (key: one, values: many) -> u64 = "RPUSH";
    /// `LPOP key`.
    lpop [T] (key: one) -> Option<T> = "LPOP";
    /// `RPOP key`.
    rpop [T] (key: one) -> Option<T> = "RPOP";
    /// `LRANGE key start stop`.
    lrange [T] (key: one, start: one, stop: one) -> Vec<T> = "LRANGE";
    /// `LINDEX key index`.
    lindex [T] (key: one, index: one) -> Option<T> = "LINDEX";
    /// `LLEN key`.
    llen (key: one) -> u64 = "LLEN";
    /// `LREM key count value`: how many were removed.
    lrem (key: one, count: one, value: one) -> u64 = "LREM";
    /// `LTRIM key start stop`.
    ltrim (key: one, start: one, stop: one) -> () = "LTRIM";

    // Sets.
    /// `SADD key member...`: how many were added.
    sadd (key: one, members: many) -> u64 = "SADD";
    /// `SREM key member...`: how many were removed.
    srem (key: one, members: many) -> u64 = "SREM";
    /// `SMEMBERS key`.
    smembers [T] (key: one) -> Vec<T> = "SMEMBERS";
    /// `SISMEMBER key member`.
    sismember (key: one, member: one) -> bool = "SISMEMBER";
    /// `SCARD key`.
    scard (key: one) -> u64 = "SCARD";
    /// `SPOP key`.
    spop [T] (key: one) -> Option<T> = "SPOP";

    // Sorted sets.
    /// `ZADD key score member...` (pairs of score and member): how many were added.
    zadd (key: one, members: pairs) -> u64 = "ZADD";
    /// `ZREM key member...`: how many were removed.
    zrem (key: one, members: many) -> u64 = "ZREM";
    /// `ZSCORE key member`.
    zscore (key: one, member: one) -> Option<f64> = "ZSCORE";
    /// `ZINCRBY key by member`: the new score.
    zincrby (key: one, by: one, member: one) -> f64 = "ZINCRBY";
    /// `ZCARD key`.
    zcard (key: one) -> u64 = "ZCARD";
    /// `ZRANK key member`.
    zrank (key: one, member: one) -> Option<u64> = "ZRANK";
    /// `ZRANGE key start stop` (by rank).
    zrange [T] (key: one, start: one, stop: one) -> Vec<T> = "ZRANGE";
    /// `ZRANGEBYSCORE key min max` (`-inf`, `+inf`, `(1.5` work as the server reads them).
    zrangebyscore [T] (key: one, min: one, max: one) -> Vec<T> = "ZRANGEBYSCORE";

    // Keys and expiry.
    /// `DEL key...`: how many were removed.
    del (keys: many) -> u64 = "DEL";
    /// `UNLINK key...`: how many were removed (freed in the background).
    unlink (keys: many) -> u64 = "UNLINK";
    /// `EXISTS key...`: how many exist.
    exists (keys: many) -> u64 = "EXISTS";
    /// `EXPIRE key seconds`: `false` when the key does not exist.
    expire (key: one, seconds: one) -> bool = "EXPIRE";
    /// `PEXPIRE key milliseconds`: `false` when the key does not exist.
    pexpire (key: one, millis: one) -> bool = "PEXPIRE";
    /// `EXPIREAT key unix-seconds`.
    expireat (key: one, at: one) -> bool = "EXPIREAT";
    /// `TTL key`: seconds left, -1 without expiry, -2 when the key does not exist.
    ttl (key: one) -> i64 = "TTL";
    /// `PTTL key`: milliseconds left, -1 without expiry, -2 when the key does not exist.
    pttl (key: one) -> i64 = "PTTL";
    /// `PERSIST key`: `false` when there was no expiry.
    persist (key: one) -> bool = "PERSIST";
    /// `RENAME key newkey`.
    rename (key: one, to: one) -> () = "RENAME";
    /// `TYPE key`: `string`, `list`, `set`, `zset`, `hash`, `stream` or `none`.
    key_type (key: one) -> String = "TYPE";
}

/// Which SCAN command a [`scan_page`] asks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScanOver {
    /// `SCAN`: the keys of the database.
    Keys,
    /// `HSCAN key`: a hash's fields and values, in turn.
    Hash(Bytes),
    /// `SSCAN key`: a set's members.
    Set(Bytes),
    /// `ZSCAN key`: a sorted set's members and scores, in turn.
    SortedSet(Bytes),
}

/// One page of a SCAN-family iteration from `cursor` (0 to start): the next cursor (0 when the
/// iteration is complete) and the page's items. `pattern` is `MATCH`, `count` the `COUNT` hint.
pub fn scan_page(
    over: &ScanOver,
    cursor: u64,
    pattern: Option<&[u8]>,
    count: Option<u32>,
) -> Typed<(u64, Vec<Bytes>)> {
    let mut c = match over {
        ScanOver::Keys => cmd("SCAN"),
        ScanOver::Hash(k) => cmd("HSCAN").arg(k),
        ScanOver::Set(k) => cmd("SSCAN").arg(k),
        ScanOver::SortedSet(k) => cmd("ZSCAN").arg(k),
    }
    .arg(cursor);
    if let Some(p) = pattern {
        c = c.arg("MATCH").arg(p);
    }
    if let Some(n) = count {
        c = c.arg("COUNT").arg(n);
    }
    Typed::new(c)
}

/// A Lua script run by its SHA1 (`EVALSHA`), sent in full (`EVAL`, which also loads it) only
/// when the server answers `NOSCRIPT`: the clients' `eval` does exactly that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    body: Bytes,
    sha1: String,
}

impl Script {
    /// A script of this source.
    pub fn new(body: impl Into<Bytes>) -> Script {
        let body = body.into();
        let sha1 = sha1_smol::Sha1::from(&body[..]).digest().to_string();
        Script { body, sha1 }
    }

    /// The SHA1 of the source, as the server names the script (lowercase hex).
    pub fn sha1(&self) -> &str {
        &self.sha1
    }

    /// `EVALSHA sha1 numkeys key... arg...`.
    pub fn evalsha<R>(&self, keys: &[impl Arg], args: &[impl Arg]) -> Typed<R> {
        Typed::new(self.with_keys(cmd("EVALSHA").arg(&self.sha1), keys, args))
    }

    /// `EVAL source numkeys key... arg...`.
    pub fn eval<R>(&self, keys: &[impl Arg], args: &[impl Arg]) -> Typed<R> {
        Typed::new(self.with_keys(cmd("EVAL").arg(&self.body), keys, args))
    }

    fn with_keys(&self, c: Cmd, keys: &[impl Arg], args: &[impl Arg]) -> Cmd {
        c.arg(keys.len()).args(keys).args(args)
    }
}

/// True when a server error reply means the script must be sent in full (`NOSCRIPT`).
pub fn is_noscript(code: &str) -> bool {
    code.eq_ignore_ascii_case("NOSCRIPT")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words<R>(t: &Typed<R>) -> Vec<String> {
        t.cmd()
            .words()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect()
    }

    #[test]
    fn builders_write_what_the_table_says() {
        assert_eq!(
            words(&hset("h", [("a", 1), ("b", 2)])),
            ["HSET", "h", "a", "1", "b", "2"]
        );
        assert_eq!(words(&hget::<String>("h", "a")), ["HGET", "h", "a"]);
        assert_eq!(words(&del(["a", "b"])), ["DEL", "a", "b"]);
        assert_eq!(
            words(&zadd("z", [(1.5, "m"), (2.0, "n")])),
            ["ZADD", "z", "1.5", "m", "2", "n"]
        );
        assert_eq!(
            words(&lrange::<String>("l", 0, -1)),
            ["LRANGE", "l", "0", "-1"]
        );
        assert_eq!(words(&key_type("k")), ["TYPE", "k"]);
        let members = vec![String::from("x"), String::from("y")];
        assert_eq!(words(&sadd("s", &members)), ["SADD", "s", "x", "y"]);
        let c: Cmd = incrby("k", 5).into();
        assert!(c.is("INCRBY"));
    }

    #[test]
    fn replies_convert_to_the_table_types() {
        use crate::Value;
        fn conv<R: FromValue>(_: &Typed<R>, v: Value) -> R {
            R::from_value(v).unwrap()
        }
        let bulk = |s: &str| Value::Bulk(Bytes::copy_from_slice(s.as_bytes()).into());
        assert_eq!(conv(&hset("h", [("a", 1)]), Value::Integer(1)), 1u64);
        assert_eq!(conv(&hget::<String>("h", "a"), Value::Null), None);
        assert_eq!(conv(&zscore("z", "m"), bulk("1.5")), Some(1.5));
        assert!(conv(&hexists("h", "a"), Value::Integer(1)));
        let page = conv(
            &scan_page(&ScanOver::Keys, 0, Some(b"k*"), Some(10)),
            Value::Array(vec![bulk("17"), Value::Array(vec![bulk("k1"), bulk("k2")])]),
        );
        assert_eq!(page.0, 17);
        assert_eq!(page.1.len(), 2);
    }

    #[test]
    fn scan_pages_and_scripts() {
        let p = scan_page(
            &ScanOver::Hash(Bytes::from_static(b"h")),
            5,
            Some(b"f*"),
            Some(100),
        );
        assert_eq!(
            words(&p),
            ["HSCAN", "h", "5", "MATCH", "f*", "COUNT", "100"]
        );
        assert_eq!(
            words(&scan_page(&ScanOver::Keys, 0, None, None)),
            ["SCAN", "0"]
        );
        let s = Script::new("return 1");
        // SHA1 of "return 1", as `SCRIPT LOAD` reports it.
        assert_eq!(s.sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
        let e: Typed<i64> = s.evalsha(&["k"], &[1]);
        assert_eq!(words(&e), ["EVALSHA", s.sha1(), "1", "k", "1"]);
        let e: Typed<i64> = s.eval(&["k"], &[] as &[&str]);
        assert_eq!(words(&e), ["EVAL", "return 1", "1", "k"]);
        assert!(is_noscript("NOSCRIPT") && !is_noscript("ERR"));
    }
}
