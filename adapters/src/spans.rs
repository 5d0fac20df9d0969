//! Tracing spans around a driver's work: one per driver, naming the service and role it
//! serves (`resp_sentinel_client`) or the discovery it runs (`resp_sentinel_discovery`), and
//! one per connection, naming the address and what the connection is for
//! (`resp_sentinel_connection`, a child of the driver's). The driver's log lines and events
//! are recorded inside them. Fields are addresses, roles and kinds only, never a credential.
//!
//! Cheap without a subscriber: a disabled span is a `None` inside, entering it is a branch,
//! and connection spans are only kept while a subscriber wants them (the map stays empty).

use crate::driver::Driven;
use resp_sentinel_core::sentinel::{Addr, ConnId, PeerKind, Role};
use std::collections::HashMap;
use tracing::Span;

/// The driver's span and those of its open connections.
pub(crate) struct Spans {
    /// The driver's span: entered while it handles a message, a timeout or a flush.
    pub(crate) driver: Span,
    /// A span per connection, while a subscriber is interested in them.
    conns: HashMap<ConnId, Span>,
}

impl Spans {
    /// The driver's span for `driven`.
    pub(crate) fn new(driven: &Driven) -> Spans {
        let driver = match driven {
            Driven::Client(m) => {
                let c = m.config();
                tracing::info_span!(
                    "resp_sentinel_client",
                    service = %c.service,
                    role = role_name(c.role),
                )
            }
            Driven::Discovery(..) => tracing::info_span!("resp_sentinel_discovery"),
            Driven::Hub(_) => tracing::info_span!("resp_sentinel_connections"),
        };
        Spans {
            driver,
            conns: HashMap::new(),
        }
    }

    /// Connection `conn` to `addr` is being opened for `kind`.
    pub(crate) fn opening(&mut self, conn: ConnId, addr: &Addr, kind: PeerKind) {
        let span = tracing::debug_span!(
            parent: &self.driver,
            "resp_sentinel_connection",
            conn = conn.0,
            addr = %addr,
            kind = kind_name(kind),
        );
        if !span.is_disabled() {
            self.conns.insert(conn, span);
        }
    }

    /// The span of connection `conn`, if one is kept.
    pub(crate) fn conn(&self, conn: ConnId) -> Option<&Span> {
        self.conns.get(&conn)
    }

    /// Connection `conn` ended: its span, for the last lines about it.
    pub(crate) fn take(&mut self, conn: ConnId) -> Option<Span> {
        self.conns.remove(&conn)
    }
}

/// A role as a field value.
fn role_name(role: Role) -> &'static str {
    match role {
        Role::Master => "master",
        Role::Replica => "replica",
    }
}

/// What a connection is for, as a field value.
fn kind_name(kind: PeerKind) -> &'static str {
    match kind {
        PeerKind::Sentinel => "sentinel",
        PeerKind::SentinelSubscriber => "sentinel_subscriber",
        PeerKind::Data(Role::Master) => "master",
        PeerKind::Data(Role::Replica) => "replica",
        PeerKind::DataSubscriber(_) => "subscriber",
        PeerKind::DataBlocking(_) => "blocking",
        PeerKind::DataDedicated(_) => "dedicated",
        PeerKind::DataRead(_) => "read",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resp_sentinel_core::sentinel::{Config, Machine};
    use std::time::Instant;

    fn client() -> Driven {
        let config = Config::new(vec![Addr::new("127.0.0.1", 1)], "svc");
        Driven::Client(Machine::new(config, Instant::now()))
    }

    #[test]
    fn without_a_subscriber_no_connection_span_is_kept() {
        let mut spans = Spans::new(&client());
        assert!(spans.driver.is_disabled());
        spans.opening(ConnId(1), &Addr::new("127.0.0.1", 2), PeerKind::Sentinel);
        assert!(spans.conn(ConnId(1)).is_none());
        assert!(spans.conns.is_empty());
    }

    /// Writes down every span's name and fields.
    #[derive(Default)]
    struct Recorded(std::sync::Mutex<Vec<String>>);

    struct Fields<'a>(&'a mut String);

    impl tracing::field::Visit for Fields<'_> {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            self.0.push_str(&format!(" {}={:?}", field.name(), value));
        }
    }

    impl tracing::Subscriber for Recorded {
        // "Sometimes", not the default "always": callsites then keep asking the current
        // subscriber, so tests running beside this one without a subscriber see none.
        fn register_callsite(
            &self,
            _: &'static tracing::Metadata<'static>,
        ) -> tracing::subscriber::Interest {
            tracing::subscriber::Interest::sometimes()
        }
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            let mut line = span.metadata().name().to_owned();
            span.record(&mut Fields(&mut line));
            let mut all = self.0.lock().unwrap();
            all.push(line);
            tracing::span::Id::from_u64(all.len() as u64)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, _: &tracing::Event<'_>) {}
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[test]
    fn spans_name_service_role_and_address_but_no_credential() {
        let recorded = std::sync::Arc::new(Recorded::default());
        let mut config = Config::new(vec![Addr::new("127.0.0.1", 1)], "orders");
        config.role = Role::Replica;
        config.auth = Some(resp_sentinel_core::sentinel::Credentials::user(
            "app", "pw-1",
        ));
        config.sentinel_auth = Some(resp_sentinel_core::sentinel::Credentials::password("pw-2"));
        let driven = Driven::Client(Machine::new(config, Instant::now()));
        tracing::subscriber::with_default(recorded.clone(), || {
            let mut spans = Spans::new(&driven);
            assert!(!spans.driver.is_disabled());
            let addr = Addr::new("127.0.0.1", 6380);
            spans.opening(ConnId(7), &addr, PeerKind::Data(Role::Replica));
            assert!(spans.conn(ConnId(7)).is_some());
            assert!(spans.take(ConnId(7)).is_some());
            assert!(spans.conn(ConnId(7)).is_none());
        });
        let lines = recorded.0.lock().unwrap().clone();
        assert_eq!(
            lines,
            [
                "resp_sentinel_client service=orders role=\"replica\"",
                "resp_sentinel_connection conn=7 addr=127.0.0.1:6380 kind=\"replica\"",
            ]
        );
        assert!(lines
            .iter()
            .all(|l| !l.contains("pw-") && !l.contains("app")));
    }

    #[test]
    fn kinds_have_distinct_names() {
        let kinds = [
            PeerKind::Sentinel,
            PeerKind::SentinelSubscriber,
            PeerKind::Data(Role::Master),
            PeerKind::Data(Role::Replica),
            PeerKind::DataSubscriber(Role::Master),
            PeerKind::DataBlocking(Role::Master),
            PeerKind::DataDedicated(Role::Master),
            PeerKind::DataRead(Role::Replica),
        ];
        let mut names: Vec<_> = kinds.iter().map(|k| kind_name(*k)).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), kinds.len());
    }
}
