//! The command flag tables (`resp_sentinel::core::command_flags`) against the running server's
//! own `COMMAND` flags: every command the server flags `write` (or `may_replicate`) is a write
//! for us, every `readonly` one a read, and nothing else is either. A server that flags a
//! command differently (a new version, Valkey) fails here instead of being routed wrong.

mod support;

use resp_sentinel::core::command_flags::{known, reads_only, writes};
use resp_sentinel::{cmd, Cmd};
use resp_sentinel_tests::{Reply, TopologyOptions};
use std::collections::BTreeSet;
use support::topology;

/// `(name, flags)` for every command and subcommand the server lists.
fn server_commands(r: &Reply, out: &mut Vec<(String, BTreeSet<String>)>) {
    for c in r.as_array().expect("COMMAND gives an array") {
        let parts = c.as_array().expect("a command entry is an array");
        let name = parts[0].as_str().expect("a name").to_ascii_lowercase();
        let flags = parts[2]
            .as_array()
            .expect("flags")
            .iter()
            .filter_map(|f| f.as_str().map(|s| s.to_ascii_lowercase()))
            .collect();
        out.push((name, flags));
        if let Some(subs) = parts.get(9) {
            server_commands(subs, out);
        }
    }
}

/// The command as a client would send it: `container|sub` becomes `CONTAINER sub`.
fn as_cmd(name: &str) -> Cmd {
    match name.split_once('|') {
        Some((c, sub)) => cmd(c).arg(sub),
        None => cmd(name),
    }
}

#[test]
fn tables_match_the_servers_flags() {
    let topo = topology(TopologyOptions {
        replicas: 0,
        sentinels: 1,
        quorum: 1,
        ..TopologyOptions::default()
    });
    let master = topo.data_addrs()[0].clone();
    let reply = topo.admin(&master, &["COMMAND"]).expect("COMMAND");
    let mut listed = Vec::new();
    server_commands(&reply, &mut listed);
    assert!(listed.len() > 200, "{} commands", listed.len());
    let mut wrong = Vec::new();
    for (name, flags) in &listed {
        let w = flags.contains("write") || flags.contains("may_replicate");
        let r = flags.contains("readonly") && !w;
        let c = as_cmd(name);
        if writes(&c) != w || reads_only(&c) != r {
            wrong.push(format!(
                "{name} {flags:?}: ours write={} read={}",
                writes(&c),
                reads_only(&c)
            ));
        }
    }
    assert!(wrong.is_empty(), "flags differ:\n{}", wrong.join("\n"));
    // Names only the other server has are fine; names neither has would be a typo.
    let names: BTreeSet<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    let ours_only: Vec<&str> = known().filter(|n| !names.contains(n)).collect();
    assert!(
        ours_only.len() < 40,
        "unknown to this server: {ours_only:?}"
    );
}
