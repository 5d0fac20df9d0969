//! redis-rs commands as ours: from a `redis::Cmd` (what the async trait receives) or from the
//! packed bytes the blocking trait receives.

use bytes::BytesMut;
use resp_sentinel_core::{Cmd, Decoder, Value};

/// A redis-rs error for a command this crate could not take.
fn invalid(why: &'static str) -> redis::RedisError {
    (redis::ErrorKind::Client, why).into()
}

/// `c` as our command. A SCAN-family cursor argument (`cursor_arg`) is only readable in the
/// packed form, so such a command goes through it.
pub(crate) fn from_redis_cmd(c: &redis::Cmd) -> Result<Cmd, redis::RedisError> {
    let mut words = Vec::new();
    for arg in c.args_iter() {
        match arg {
            redis::Arg::Simple(bytes) => words.push(bytes),
            // A cursor (or a kind of argument newer than this code): the packed form has it.
            _ => return one_packed(&c.get_packed_command()),
        }
    }
    let mut words = words.into_iter();
    let mut cmd = Cmd::new(words.next().ok_or_else(|| invalid("empty command"))?);
    for w in words {
        cmd.push(w);
    }
    Ok(cmd)
}

/// The single command packed in `bytes`.
pub(crate) fn one_packed(bytes: &[u8]) -> Result<Cmd, redis::RedisError> {
    let mut cmds = from_packed(bytes)?;
    match (cmds.pop(), cmds.is_empty()) {
        (Some(cmd), true) => Ok(cmd),
        _ => Err(invalid("expected exactly one packed command")),
    }
}

/// The commands packed back to back in `bytes` (arrays of bulk strings, as redis-rs writes them).
pub(crate) fn from_packed(bytes: &[u8]) -> Result<Vec<Cmd>, redis::RedisError> {
    let mut buf = BytesMut::from(bytes);
    let mut decoder = Decoder::new();
    let mut cmds = Vec::new();
    while !buf.is_empty() {
        let value = match decoder.decode(&mut buf) {
            Ok(Some(v)) => v,
            Ok(None) => return Err(invalid("truncated packed command")),
            Err(_) => return Err(invalid("packed command is not valid RESP")),
        };
        let Value::Array(words) = value else {
            return Err(invalid("packed command is not an array"));
        };
        let mut words = words.into_iter();
        let mut cmd = match words.next() {
            Some(Value::Bulk(name)) => Cmd::new(&name[..]),
            _ => return Err(invalid("packed command has no name")),
        };
        for w in words {
            match w {
                Value::Bulk(b) => cmd.push(&b[..]),
                _ => return Err(invalid("packed command argument is not a bulk string")),
            }
        }
        cmds.push(cmd);
    }
    Ok(cmds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(c: &Cmd) -> Vec<Vec<u8>> {
        c.words().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn plain_commands_keep_every_word() {
        let mut c = redis::cmd("SET");
        c.arg("k").arg(b"v\r\n\x00".as_slice()).arg(42);
        let ours = from_redis_cmd(&c).unwrap();
        assert_eq!(
            words(&ours),
            [
                b"SET".to_vec(),
                b"k".to_vec(),
                b"v\r\n\x00".to_vec(),
                b"42".to_vec()
            ]
        );
        assert_eq!(&ours.to_bytes()[..], &c.get_packed_command()[..]);
    }

    #[test]
    fn a_cursor_argument_is_the_current_cursor() {
        let mut c = redis::cmd("SCAN");
        c.cursor_arg(17).arg("MATCH").arg("k:*");
        let ours = from_redis_cmd(&c).unwrap();
        assert_eq!(
            words(&ours),
            [
                b"SCAN".to_vec(),
                b"17".to_vec(),
                b"MATCH".to_vec(),
                b"k:*".to_vec()
            ]
        );
    }

    #[test]
    fn packed_pipelines_split_into_commands() {
        let mut p = redis::pipe();
        p.atomic().cmd("INCR").arg("a").cmd("GET").arg("b");
        let cmds = from_packed(&p.get_packed_pipeline()).unwrap();
        let names: Vec<_> = cmds.iter().map(|c| c.name().to_vec()).collect();
        assert_eq!(
            names,
            [
                b"MULTI".to_vec(),
                b"INCR".to_vec(),
                b"GET".to_vec(),
                b"EXEC".to_vec()
            ]
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(from_redis_cmd(&redis::Cmd::new()).is_err());
        for bad in [
            &b"*1\r\n$3\r\nGE"[..],
            b"+OK\r\n",
            b"*1\r\n:1\r\n",
            b"*0\r\n",
            b"%%%\r\n",
        ] {
            assert!(from_packed(bad).is_err(), "{bad:?}");
        }
        assert!(one_packed(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n").is_err());
        assert!(from_packed(b"").unwrap().is_empty());
    }
}
