//! The configuration files written for data nodes and sentinels.
//!
//! Both kinds bind 127.0.0.1 only, so `protected-mode no` opens nothing beyond loopback. Data
//! nodes never persist (`save ""`, `appendonly no`) and sync replicas diskless with no delay, so
//! replicas attach in milliseconds. Everything a node writes stays in its own directory.

use crate::options::TopologyOptions;
use std::fmt::Write as _;
use std::path::Path;

/// Settings shared by both kinds of node; `tls_listen` moves the port to TLS only.
fn common(out: &mut String, port: u16, tls_listen: bool, dir: &Path, log: &Path) {
    if tls_listen {
        out.push_str("port 0\n");
        let _ = writeln!(out, "tls-port {port}");
    } else {
        let _ = writeln!(out, "port {port}");
    }
    out.push_str("bind 127.0.0.1\n");
    out.push_str("protected-mode no\n");
    out.push_str("daemonize no\n");
    let _ = writeln!(out, "dir \"{}\"", dir.display());
    let _ = writeln!(out, "logfile \"{}\"", log.display());
}

/// The certificate settings, when the node speaks TLS at all: the files are in the topology's
/// `tls` directory, beside the node directories; `tls-replication yes` makes the node's own
/// outgoing links (replication, sentinel links) TLS.
fn tls_files(out: &mut String, opts: &TopologyOptions, dir: &Path, dials_tls: bool) {
    let Some(t) = opts.tls else { return };
    if !dials_tls {
        return;
    }
    let tls = dir.parent().unwrap_or(dir).join("tls");
    let _ = writeln!(out, "tls-cert-file \"{}\"", tls.join("node.pem").display());
    let _ = writeln!(out, "tls-key-file \"{}\"", tls.join("node.key").display());
    let _ = writeln!(out, "tls-ca-cert-file \"{}\"", tls.join("ca.pem").display());
    out.push_str("tls-replication yes\n");
    let auth = if t.auth_clients { "yes" } else { "no" };
    let _ = writeln!(out, "tls-auth-clients {auth}");
}

/// `redis.conf` of a data node; `master_port` makes it a replica of 127.0.0.1:`master_port`.
pub(crate) fn data_node(
    opts: &TopologyOptions,
    port: u16,
    master_port: Option<u16>,
    dir: &Path,
    log: &Path,
) -> String {
    let mut out = String::new();
    let tls = opts.tls.is_some_and(|t| t.data);
    common(&mut out, port, tls, dir, log);
    tls_files(&mut out, opts, dir, tls);
    out.push_str("save \"\"\n");
    out.push_str("appendonly no\n");
    out.push_str("repl-diskless-sync yes\n");
    out.push_str("repl-diskless-sync-delay 0\n");
    out.push_str("repl-ping-replica-period 1\n");
    if let Some(c) = &opts.data_auth {
        match &c.username {
            Some(u) => {
                out.push_str("user default off\n");
                let _ = writeln!(out, "user {u} on >{} ~* &* +@all", c.password);
                let _ = writeln!(out, "masteruser {u}");
            }
            None => {
                let _ = writeln!(out, "requirepass {}", c.password);
            }
        }
        let _ = writeln!(out, "masterauth {}", c.password);
    }
    if let Some(m) = master_port {
        let _ = writeln!(out, "replicaof 127.0.0.1 {m}");
    }
    out
}

/// `sentinel.conf` of a sentinel monitoring 127.0.0.1:`master_port`.
pub(crate) fn sentinel(
    opts: &TopologyOptions,
    port: u16,
    master_port: u16,
    dir: &Path,
    log: &Path,
) -> String {
    let name = &opts.service_name;
    let mut out = String::new();
    common(
        &mut out,
        port,
        opts.tls.is_some_and(|t| t.sentinels),
        dir,
        log,
    );
    // Sentinels dial data nodes and each other with TLS when either listens on TLS.
    let dials_tls = opts.tls.is_some_and(|t| t.data || t.sentinels);
    tls_files(&mut out, opts, dir, dials_tls);
    out.push_str("sentinel resolve-hostnames no\n");
    out.push_str("sentinel announce-hostnames no\n");
    if let Some(c) = &opts.sentinel_auth {
        match &c.username {
            Some(u) => {
                out.push_str("user default off\n");
                let _ = writeln!(out, "user {u} on >{} allchannels ~* +@all", c.password);
                let _ = writeln!(out, "sentinel sentinel-user {u}");
            }
            None => {
                let _ = writeln!(out, "requirepass {}", c.password);
            }
        }
        let _ = writeln!(out, "sentinel sentinel-pass {}", c.password);
    }
    let _ = writeln!(
        out,
        "sentinel monitor {name} 127.0.0.1 {master_port} {}",
        opts.quorum
    );
    let _ = writeln!(
        out,
        "sentinel down-after-milliseconds {name} {}",
        opts.down_after.as_millis()
    );
    let _ = writeln!(
        out,
        "sentinel failover-timeout {name} {}",
        opts.failover_timeout.as_millis()
    );
    let _ = writeln!(out, "sentinel parallel-syncs {name} 1");
    if let Some(c) = &opts.data_auth {
        if let Some(u) = &c.username {
            let _ = writeln!(out, "sentinel auth-user {name} {u}");
        }
        let _ = writeln!(out, "sentinel auth-pass {name} {}", c.password);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<&str> {
        s.lines().collect()
    }

    #[test]
    fn plain_replica_config() {
        let o = TopologyOptions::default();
        let c = data_node(
            &o,
            20001,
            Some(20000),
            Path::new("/t/n"),
            Path::new("/t/n/l"),
        );
        let l = lines(&c);
        for want in [
            "port 20001",
            "bind 127.0.0.1",
            "save \"\"",
            "appendonly no",
            "dir \"/t/n\"",
            "replicaof 127.0.0.1 20000",
        ] {
            assert!(l.contains(&want), "missing {want:?} in\n{c}");
        }
        assert!(!c.contains("requirepass") && !c.contains("user "), "{c}");
    }

    #[test]
    fn acl_data_node_disables_default_user() {
        let o = TopologyOptions::default().acl_user("app", "pw1");
        let c = data_node(&o, 20000, None, Path::new("/d"), Path::new("/d/l"));
        let l = lines(&c);
        assert!(l.contains(&"user default off"), "{c}");
        assert!(l.contains(&"user app on >pw1 ~* &* +@all"), "{c}");
        assert!(
            l.contains(&"masteruser app") && l.contains(&"masterauth pw1"),
            "{c}"
        );
        assert!(!c.contains("replicaof"), "{c}");
    }

    #[test]
    fn sentinel_config_with_both_passwords() {
        let o = TopologyOptions::default()
            .service_name("svc")
            .password("dpw")
            .sentinel_password("spw");
        let c = sentinel(&o, 21000, 20000, Path::new("/s"), Path::new("/s/l"));
        let l = lines(&c);
        for want in [
            "sentinel monitor svc 127.0.0.1 20000 2",
            "sentinel down-after-milliseconds svc 1500",
            "sentinel failover-timeout svc 5000",
            "sentinel auth-pass svc dpw",
            "requirepass spw",
            "sentinel sentinel-pass spw",
            "sentinel resolve-hostnames no",
        ] {
            assert!(l.contains(&want), "missing {want:?} in\n{c}");
        }
        let monitor = l.iter().position(|x| x.starts_with("sentinel monitor"));
        let auth = l.iter().position(|x| x.starts_with("sentinel auth-pass"));
        assert!(monitor < auth, "monitor must precede per-master options");
    }
}
