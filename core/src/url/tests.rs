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

/// Every form that has userinfo, with `{ui}` where the userinfo goes.
const USERINFO_FORMS: &[&str] = &[
    "redis+sentinel://{ui}@127.0.0.1:26379,127.0.0.1:26380/mymaster/0?sentinel_password=sp",
    "rediss+sentinel://{ui}@127.0.0.1:26379/mymaster",
    "valkey+sentinel://{ui}@localhost/mymaster",
    "redis-sentinel://{ui}@127.0.0.1:26379/0#mymaster",
    "valkey-sentinel://{ui}@127.0.0.1:26379?sentinelServiceName=mymaster&node=127.0.0.1:26380",
    "sentinel://{ui}@127.0.0.1:26379/0;sentinel://127.0.0.1:26380",
    "sentinel://127.0.0.1:26380;sentinel://{ui}@127.0.0.1:26379/0",
    "redis://{ui}@mymaster/0?is_master=1",
    "redis://{ui}@127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380",
    "redis://{ui}@127.0.0.1:26379?master_set=mymaster",
];

/// Passwords with unencoded delimiters: base64 with `/` and `=`, `?a=b`, `#x&y=z`, `@` twice...
const HOSTILE_PASSWORDS: &[&str] = &[
    "Zm9vQmFy/YmF6cXV4=",
    "c2Vj/cmV0+cGFzcw==",
    "Xq7?a=b",
    "Kp3#x&y=z",
    "Wd4@Jm5@Ln6",
    "Rt8/Vb2?Hn5#Fg1",
    "Ab1/Cd2",
    "Ef3?Gh4",
    "Ij5#Kl6",
    "/Lead9x",
    "?Qm2xyz",
    "#Hash7x",
    "Tr4@ilz",
    "Uv5/Wx6=&Yz7=",
    "Pq8?role=master&Zz9=",
];

/// Substrings of `secret` of three characters or more found in `text`.
fn leaks(secret: &str, text: &str) -> Vec<String> {
    let chars: Vec<char> = secret.chars().collect();
    let mut found = Vec::new();
    for i in 0..chars.len() {
        for j in i + 3..=chars.len() {
            let sub: String = chars[i..j].iter().collect();
            if text.contains(&sub) {
                found.push(sub);
            }
        }
    }
    found
}

#[test]
fn ambiguous_userinfo_is_refused_in_every_form_without_echo() {
    // `Mn3;sentinel://Op4` without a colon before it is a valid list (host `Mn3`, then a
    // segment with password `Op4`): only the `user:`/`:` shapes are testable.
    let kombu_only = ["Mn3;Op4=", "Mn3;Op4/Qr5", ";Mn3x"];
    for form in USERINFO_FORMS {
        let passwords = HOSTILE_PASSWORDS.iter().chain(
            kombu_only
                .iter()
                .filter(|_| form.starts_with("sentinel://")),
        );
        for pw in passwords {
            for ui in [pw.to_string(), format!(":{pw}"), format!("app:{pw}")] {
                let url = form.replace("{ui}", &ui);
                let err = match parse(&url) {
                    Ok(t) => panic!("{url}: accepted, sentinels {:?}", t.sentinels),
                    Err(e) => e,
                };
                let text = format!("{err} {err:?}");
                let leaked = leaks(pw, &text);
                assert!(leaked.is_empty(), "{url}: {text} leaks {leaked:?}");
                let inner = match &err {
                    UrlError::InSegment { source, .. } => source.as_ref(),
                    e => e,
                };
                assert_eq!(*inner, UrlError::UnencodedUserinfo, "{url}: {err}");
                assert!(
                    err.to_string().to_lowercase().contains("percent-encode"),
                    "{err}"
                );
            }
            // Percent-encoded, the same password is read as it is, with the URL's hosts.
            let mut enc = String::new();
            percent::encode_into(&mut enc, pw);
            let url = form.replace("{ui}", &format!("app:{enc}"));
            let t = parse(&url).unwrap_or_else(|e| panic!("{url}: {e}"));
            let got = if t.form == UrlForm::GoRedis {
                &t.sentinel_password
            } else {
                &t.password
            };
            assert_eq!(got.as_ref().map(Secret::expose), Some(*pw), "{url}");
            for s in &t.sentinels {
                assert!(
                    ["127.0.0.1", "localhost"].contains(&s.host.as_str()),
                    "{url}: {s}"
                );
            }
        }
        if form.starts_with("sentinel://") {
            let url = form.replace("{ui}", "app:Mn3;sentinel://Op4");
            assert!(
                matches!(
                    parse(&url),
                    Err(UrlError::InSegment { source, .. }) if *source == UrlError::UnencodedUserinfo
                ),
                "{url}"
            );
        }
    }
}

#[test]
fn control_characters_and_long_hosts_are_refused_and_never_printed() {
    let long = "a".repeat(300);
    for url in [
        "redis+sentinel://h/svc%1B]0;owned%07".to_owned(),
        "redis+sentinel://h/s\u{1b}[2J".to_owned(),
        "redis+sentinel://h\u{1b}[2J/s".to_owned(),
        "redis+sentinel://h/s/0\n".to_owned(),
        "redis+sentinel://h/s?sentinel_username=a%0D%0AFORGED".to_owned(),
        "redis+sentinel://h/s?role=%1B[31m".to_owned(),
        "redis+sentinel://h/s?timeout=%7F".to_owned(),
        "redis+sentinel://u%1B:p@h/s".to_owned(),
        "redis-sentinel://h#sv%0Ac".to_owned(),
        "redis-sentinel://h?sentinelMasterId=%C2%9B2J".to_owned(),
        "redis://h?master_name=a%0Db".to_owned(),
        "redis://h?master_name=m&addr=h2%1B".to_owned(),
        "redis://svc%1B/0".to_owned(),
        "sentinel://h1/0;sentinel://h2\u{7}".to_owned(),
        format!("redis+sentinel://{long}:26379/s"),
        format!("redis://h?master_name=m&addr={long}"),
        format!("redis+sentinel://h/s/0/{long}"),
        format!("redis+sentinel://h/s?{long}=1"),
    ] {
        let err = parse(&url).expect_err(&url);
        let msg = err.to_string();
        assert!(!msg.chars().any(char::is_control), "{url}: {msg:?}");
        assert!(msg.len() < 250, "{url}: {} bytes: {msg}", msg.len());
        assert!(!msg.contains(&long[..40]), "{url}: {msg}");
    }
    // A password may hold control characters (it is never printed); 253 bytes is a host.
    let t = parse("redis+sentinel://:p%1Bw@h/s?sentinel_password=%0D").unwrap();
    assert_eq!(t.password.as_ref().map(Secret::expose), Some("p\u{1b}w"));
    let host = format!("{}.b", "a".repeat(251));
    assert!(parse(&format!("redis+sentinel://{host}/s")).is_ok());
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
