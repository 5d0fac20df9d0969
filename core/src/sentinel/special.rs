//! What a command's name alone says about how the machine handles it: most commands are
//! plain; a few change the connection (refused on the shared one) or block (sent on a pool
//! connection). Decided with one case-folded comparison, since every submitted command asks.

use crate::Cmd;

/// A command the machine does not send as a plain command on the shared connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Special {
    /// Turns the connection into a subscriber (or a monitor): the subscribe API's job.
    PubSub(&'static str),
    /// Transaction control: the transaction API's (or a dedicated connection's) job.
    Transaction(&'static str),
    /// Blocks the connection until it returns: runs on a connection of its own.
    Blocking(&'static str),
}

/// Longest special name (`PUNSUBSCRIBE`, `SUNSUBSCRIBE`).
const LONGEST: usize = 12;

/// What `cmd` is, when its name is one of the special ones (in any case).
pub(crate) fn special(cmd: &Cmd) -> Option<Special> {
    use Special::{Blocking, PubSub, Transaction};
    let name = cmd.name();
    if name.len() < 4 || name.len() > LONGEST {
        return None;
    }
    let mut up = [0u8; LONGEST];
    for (d, s) in up.iter_mut().zip(name) {
        *d = s.to_ascii_uppercase();
    }
    Some(match &up[..name.len()] {
        b"SUBSCRIBE" => PubSub("SUBSCRIBE"),
        b"PSUBSCRIBE" => PubSub("PSUBSCRIBE"),
        b"SSUBSCRIBE" => PubSub("SSUBSCRIBE"),
        b"UNSUBSCRIBE" => PubSub("UNSUBSCRIBE"),
        b"PUNSUBSCRIBE" => PubSub("PUNSUBSCRIBE"),
        b"SUNSUBSCRIBE" => PubSub("SUNSUBSCRIBE"),
        b"MONITOR" => PubSub("MONITOR"),
        b"MULTI" => Transaction("MULTI"),
        b"EXEC" => Transaction("EXEC"),
        b"DISCARD" => Transaction("DISCARD"),
        b"WATCH" => Transaction("WATCH"),
        b"UNWATCH" => Transaction("UNWATCH"),
        b"BLPOP" => Blocking("BLPOP"),
        b"BRPOP" => Blocking("BRPOP"),
        b"BZPOPMIN" => Blocking("BZPOPMIN"),
        b"BZPOPMAX" => Blocking("BZPOPMAX"),
        b"BLMOVE" => Blocking("BLMOVE"),
        b"BRPOPLPUSH" => Blocking("BRPOPLPUSH"),
        b"BLMPOP" => Blocking("BLMPOP"),
        b"BZMPOP" => Blocking("BZMPOP"),
        b"WAIT" => Blocking("WAIT"),
        b"WAITAOF" => Blocking("WAITAOF"),
        b"XREAD" => Blocking("XREAD"),
        b"XREADGROUP" => Blocking("XREADGROUP"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd;

    #[test]
    fn names_are_matched_in_any_case_and_only_whole() {
        assert_eq!(
            special(&cmd("subscribe").arg("c")),
            Some(Special::PubSub("SUBSCRIBE"))
        );
        assert_eq!(special(&cmd("Multi")), Some(Special::Transaction("MULTI")));
        assert_eq!(
            special(&cmd("xReadGroup")),
            Some(Special::Blocking("XREADGROUP"))
        );
        assert_eq!(
            special(&cmd("wait").arg(1).arg(0)),
            Some(Special::Blocking("WAIT"))
        );
        for plain in [
            "GET",
            "SET",
            "XREADX",
            "BLPOPS",
            "EXE",
            "",
            "PUNSUBSCRIBES",
            "WAITA",
        ] {
            assert_eq!(special(&cmd(plain)), None, "{plain}");
        }
    }
}
