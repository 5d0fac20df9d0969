//! Dispatch, cross-form and property tests of [`super::parse`] and [`SentinelTarget::to_url`].

use super::*;
use crate::sentinel::{Addr, Role};
use proptest::prelude::*;
use std::time::Duration;

#[test]
fn scheme_dispatch_errors() {
    assert_eq!(parse(""), Err(UrlError::Empty));
    assert_eq!(parse("   "), Err(UrlError::Empty));
    assert_eq!(parse("h1:26379/mymaster"), Err(UrlError::MissingScheme));
    let err = parse("http://h1/mymaster").unwrap_err();
    assert_eq!(
        err,
        UrlError::UnknownScheme {
            scheme: "http".into()
        }
    );
    let msg = err.to_string();
    for s in [
        "`http`",
        "redis+sentinel",
        "valkeys+sentinel",
        "rediss-sentinel",
        "sentinel (Celery/Kombu)",
        "master_set=",
    ] {
        assert!(msg.contains(s), "{msg} lacks {s}");
    }
    assert_eq!(
        parse("redis+sentinels://h/s"),
        Err(UrlError::UnknownScheme {
            scheme: "redis+sentinels".into()
        })
    );
}

#[test]
fn errors_never_echo_secrets() {
    for url in [
        "redis+sentinel://user:hunter2%zz@h/s",
        "redis+sentinel://h/s?sentinel_password=hunter2%zz",
        "redis-sentinel://h?sentinelPassword=hunter2%g#s",
        "redis://h?master_name=m&password=hunter2%",
        "redis://hunter2%zz@h?master_name=m",
        "sentinel://:hunter2@h1;sentinel://:hunter3@h2",
        "redis+sentinel://u:hunter2/x@h/s",
        "redis-sentinel://u:hunter2?x@h#s",
        "sentinel://:hun;ter2@h1",
        "redis://u:hunter2#x@h?master_name=m",
    ] {
        let msg = parse(url).unwrap_err().to_string();
        assert!(!msg.contains("hunter"), "{url}: {msg}");
    }
}

#[test]
fn from_str_matches_parse() {
    let t: SentinelTarget = "redis+sentinel://h/s".parse().unwrap();
    assert_eq!(t, parse("redis+sentinel://h/s").unwrap());
}

#[test]
fn flags_complete_a_django_url() {
    let t = parse("redis://mymaster/1?is_master=0").unwrap();
    assert_eq!(
        t.validate(),
        Err(UrlError::Incomplete {
            no_sentinels: true,
            no_service: false
        })
    );
    let t = t
        .with_sentinels([parse_host_port("h1", DEFAULT_SENTINEL_PORT).unwrap()])
        .with_sentinels(["h2:26380".parse::<Addr>().unwrap()])
        .with_sentinel_password("sp");
    assert_eq!(t.validate(), Ok(()));
    assert_eq!(t.sentinels.len(), 2);
    assert_eq!(t.role, Some(Role::Replica));
}

#[test]
fn flags_complete_a_kombu_url() {
    let t = parse("sentinel://:p@h1;sentinel://:p@h2/0").unwrap();
    assert!(t.validate().is_err());
    let t = t.with_service("mymaster").with_db(3).with_password("flag");
    assert_eq!(t.validate(), Ok(()));
    assert_eq!(t.db, Some(3));
    assert_eq!(t.password, Some(Secret::new("flag")));
}

/// Every form, parsed, written canonically and parsed again, keeps its settings.
#[test]
fn every_form_survives_to_url() {
    for url in [
        "redis+sentinel://u:p@h1,h2:2/svc/1?sentinel_password=x&role=replica&timeout=5s",
        "sentinel://:p@h1;sentinel://:p@h2/0",
        "redis://svc/1?is_master=0",
        "rediss-sentinel://pw@h1,[::1]:3/2?node=h9&sentinelUsername=su&sentinelPassword=sp#m",
        "redis://su:sp@h1/2?master_name=m&addr=h2&username=u&password=p&protocol=3",
        "valkey://u:p@h1?master_set=m&dial_timeout=250ms",
    ] {
        // The django form names no sentinels; a flag would add them.
        let a = parse(url).unwrap().with_sentinels([Addr::new("s1", 1)]);
        let b = parse(&a.to_url()).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(b.form, UrlForm::RedisSentinel);
        let same = |t: &SentinelTarget| {
            (
                t.sentinels.clone(),
                t.service.clone(),
                t.db,
                t.username.clone(),
                t.password.clone(),
                t.sentinel_username.clone(),
                t.sentinel_password.clone(),
                t.role,
                t.protocol,
                t.timeout,
                t.tls,
            )
        };
        assert_eq!(same(&a), same(&b), "{url}");
    }
}

fn text() -> impl Strategy<Value = String> {
    // Any printable text, including URL delimiters and non-ASCII.
    "[ -~é€😀]{1,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9][a-z0-9._-]{0,10}",
        Just("::1".to_owned()),
        Just("fe80::2:3".to_owned()),
        Just("10.1.2.3".to_owned()),
    ]
}

prop_compose! {
    fn target()(
        tls in any::<bool>(),
        sentinels in prop::collection::vec((host(), 1u16..), 1..4),
        service in prop::option::of(text()),
        db in prop::option::of(any::<u32>()),
        username in prop::option::of(text()),
        password in prop::option::of(text()),
        sentinel_username in prop::option::of(text()),
        sentinel_password in prop::option::of(text()),
        role in prop::option::of(prop_oneof![Just(Role::Master), Just(Role::Replica)]),
        protocol in prop::option::of(prop_oneof![Just(Protocol::Resp2), Just(Protocol::Resp3)]),
        timeout in prop::option::of((any::<u64>(), 0u32..1_000_000_000)),
    ) -> SentinelTarget {
        let mut t = SentinelTarget::new()
            .with_sentinels(sentinels.into_iter().map(|(h, p)| Addr::new(h, p)))
            .with_tls(tls);
        t.form = UrlForm::RedisSentinel;
        t.scheme = if tls { "rediss+sentinel" } else { "redis+sentinel" }.to_owned();
        t.service = service;
        t.db = db;
        t.username = username;
        t.password = password.map(Secret::new);
        t.sentinel_username = sentinel_username;
        t.sentinel_password = sentinel_password.map(Secret::new);
        t.role = role;
        t.protocol = protocol;
        t.timeout = timeout
            .map(|(s, n)| Duration::new(s, n))
            .filter(|d| !d.is_zero());
        t
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(s in "\\PC{0,80}") {
        let _ = parse(&s);
    }

    #[test]
    fn parse_never_panics_on_url_like_input(
        scheme in prop_oneof![
            Just("redis+sentinel"), Just("rediss-sentinel"), Just("sentinel"),
            Just("redis"), Just("valkeys"), Just("x")
        ],
        rest in "[a-z0-9:@/?#&=;,%\\[\\]+._~é-]{0,60}",
    ) {
        let url = format!("{scheme}://{rest}");
        if let Err(e) = parse(&url) {
            // Every error renders.
            prop_assert!(!e.to_string().is_empty());
        }
    }

    #[test]
    fn to_url_round_trips(t in target()) {
        let url = t.to_url();
        let back = parse(&url);
        prop_assert_eq!(back, Ok(t), "{}", url);
    }
}
