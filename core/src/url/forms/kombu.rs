//! Celery/Kombu: `sentinel://[user:pass@]h1[:p1][/db];sentinel://[user:pass@]h2[:p2][/db]...`.
//!
//! Each `;` segment names one sentinel. The service comes from elsewhere (Kombu's
//! `master_name` transport option; here a flag).

use super::{db_only_path, set_db};
use crate::url::hosts::{parse_host_port, push_unique, DEFAULT_SENTINEL_PORT};
use crate::url::parts;
use crate::url::query::Query;
use crate::url::{SentinelTarget, UrlError, UrlForm};

/// Parses the whole `;`-separated list.
pub(super) fn parse(url: &str) -> Result<SentinelTarget, UrlError> {
    let segments: Vec<&str> = url.split(';').map(str::trim).collect();
    let many = segments.len() > 1;
    // A `;` inside a password splits it across segments: catch that before parsing the first
    // segment, whose error could quote part of the password.
    for (i, seg) in segments.iter().enumerate().skip(1) {
        if !seg.is_empty() && !seg.contains("://") {
            return Err(UrlError::InSegment {
                index: i + 1,
                source: Box::new(if seg.contains('@') {
                    UrlError::UnencodedUserinfo
                } else {
                    UrlError::MissingScheme
                }),
            });
        }
    }
    // `sentinel://app:pa;sentinel://ss@h`: a segment whose host part reads `user:pass` or
    // `:pass`, with an `@` in a later segment, is a password cut at its `;`.
    for (i, seg) in segments.iter().enumerate() {
        let later_at = segments[i + 1..].iter().any(|s| s.contains('@'));
        if later_at && parts::authority_looks_like_userinfo(seg) {
            return Err(UrlError::InSegment {
                index: i + 1,
                source: Box::new(UrlError::UnencodedUserinfo),
            });
        }
    }
    let mut t = SentinelTarget::empty(UrlForm::Kombu, "sentinel");
    let mut password: Option<String> = None;
    for (i, seg) in segments.iter().enumerate() {
        segment(seg, &mut t, &mut password).map_err(|e| {
            if many {
                UrlError::InSegment {
                    index: i + 1,
                    source: Box::new(e),
                }
            } else {
                e
            }
        })?;
    }
    t.password = password.map(crate::url::Secret::new);
    Ok(t)
}

fn segment(
    seg: &str,
    t: &mut SentinelTarget,
    password: &mut Option<String>,
) -> Result<(), UrlError> {
    if seg.trim().is_empty() {
        return Err(UrlError::Empty);
    }
    let p = parts::split(seg)?;
    if p.scheme != "sentinel" {
        return Err(UrlError::UnknownScheme { scheme: p.scheme });
    }
    if p.hosts.contains(',') {
        return Err(UrlError::BadHost {
            host: p.hosts.to_owned(),
            reason: "one host per `sentinel://` segment; separate sentinels with `;sentinel://`",
        });
    }
    push_unique(
        &mut t.sentinels,
        parse_host_port(p.hosts, DEFAULT_SENTINEL_PORT)?,
    );
    let (user, pass) = parts::userinfo(p.userinfo, "data-node")?;
    if let Some(user) = user {
        // Userinfo is never echoed, usernames included.
        if t.username.as_ref().is_some_and(|old| *old != user) {
            return Err(UrlError::Conflict {
                what: "usernames in `;` segments",
                first: "***".into(),
                second: "***".into(),
            });
        }
        t.username = Some(user);
    }
    if let Some(pass) = pass {
        // Compare secrets without echoing them.
        if password.as_deref().is_some_and(|old| old != pass.expose()) {
            return Err(UrlError::Conflict {
                what: "passwords in `;` segments",
                first: "***".into(),
                second: "***".into(),
            });
        }
        *password = Some(pass.expose().to_owned());
    }
    if let Some(db) = db_only_path(p.path, "`/db` (a database number) or nothing")? {
        set_db(&mut t.db, &db.to_string(), "databases in `;` segments")?;
    }
    if p.fragment.is_some() {
        return Err(UrlError::UnexpectedFragment {
            form: UrlForm::Kombu,
        });
    }
    Query::parse(p.query, false, &[])?.finish(UrlForm::Kombu, &[], &[])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::sentinel::Addr;
    use crate::url::{parse, Secret, UrlError, UrlForm};

    #[test]
    fn celery_list() {
        let t = parse("sentinel://:pass@h1:26379;sentinel://:pass@h2:26380/0").unwrap();
        assert_eq!(t.form, UrlForm::Kombu);
        assert_eq!(t.scheme, "sentinel");
        assert_eq!(
            t.sentinels,
            vec![Addr::new("h1", 26379), Addr::new("h2", 26380)]
        );
        assert_eq!(t.password, Some(Secret::new("pass")));
        assert_eq!(t.db, Some(0));
        assert_eq!(t.service, None);
        assert_eq!(t.sentinel_password, None);
        assert!(!t.tls);
    }

    #[test]
    fn celery_variants() {
        let t = parse("sentinel://h1").unwrap();
        assert_eq!(t.sentinels, vec![Addr::new("h1", 26379)]);
        assert_eq!((t.password.clone(), t.db), (None, None));
        // Credentials and db may be given once, on any segment.
        let t = parse("sentinel://u:p%3B@h1/3;sentinel://h2;sentinel://[::1]:1").unwrap();
        assert_eq!(t.username.as_deref(), Some("u"));
        assert_eq!(t.password, Some(Secret::new("p;")));
        assert_eq!(t.db, Some(3));
        assert_eq!(t.sentinels.len(), 3);
        let t = parse("sentinel://h1/;sentinel://h1").unwrap();
        assert_eq!(t.sentinels.len(), 1);
        let t = parse("sentinel://h1/2;sentinel://h2/2").unwrap();
        assert_eq!(t.db, Some(2));
    }

    #[test]
    fn celery_errors() {
        let e = |u: &str| parse(u).unwrap_err();
        let inner = |u: &str| match parse(u).unwrap_err() {
            UrlError::InSegment { index, source } => (index, *source),
            other => panic!("{u}: {other:?}"),
        };
        assert_eq!(
            inner("sentinel://h1;redis://h2"),
            (
                2,
                UrlError::UnknownScheme {
                    scheme: "redis".into()
                }
            )
        );
        assert_eq!(inner("sentinel://h1;"), (2, UrlError::Empty));
        assert_eq!(
            inner("sentinel://h1;sentinel://h2:70000"),
            (
                2,
                UrlError::BadPort {
                    port: "70000".into()
                }
            )
        );
        assert_eq!(
            inner("sentinel://h1;h2:26379"),
            (2, UrlError::MissingScheme)
        );
        assert!(matches!(
            inner("sentinel://h1/1;sentinel://h2/2").1,
            UrlError::Conflict { .. }
        ));
        let (_, conflict) = inner("sentinel://:aaa@h1;sentinel://:bbb@h2");
        assert!(matches!(conflict, UrlError::Conflict { .. }));
        let msg = conflict.to_string();
        assert!(!msg.contains("aaa") && !msg.contains("bbb"), "{msg}");
        let (_, conflict) = inner("sentinel://alice:p@h1;sentinel://bob:p@h2");
        let msg = format!("{conflict} {conflict:?}");
        assert!(!msg.contains("alice") && !msg.contains("bob"), "{msg}");
        assert_eq!(e("sentinel://"), UrlError::EmptyHost { index: 1 });
        let leak = e("sentinel://:zq;x9@h1;sentinel://h2");
        assert_eq!(
            leak,
            UrlError::InSegment {
                index: 2,
                source: Box::new(UrlError::UnencodedUserinfo)
            }
        );
        assert!(!leak.to_string().contains("zq"), "{leak}");
        for url in [
            "sentinel://app:zq;sentinel://x9@h1",
            "sentinel://:zq;sentinel://x9@h1",
        ] {
            let leak = e(url);
            assert_eq!(
                leak,
                UrlError::InSegment {
                    index: 1,
                    source: Box::new(UrlError::UnencodedUserinfo)
                },
                "{url}"
            );
        }
        // Spaces around `;` are tolerated.
        assert_eq!(
            parse("sentinel://h1 ; sentinel://h2")
                .unwrap()
                .sentinels
                .len(),
            2
        );
        assert!(matches!(e("sentinel://h1,h2"), UrlError::BadHost { .. }));
        assert!(matches!(
            e("sentinel://h1/mymaster"),
            UrlError::BadPath { .. }
        ));
        assert!(matches!(
            e("sentinel://h1?master_name=x"),
            UrlError::UnknownQueryKey {
                form: UrlForm::Kombu,
                ..
            }
        ));
        assert!(e("sentinel://h1?x=1")
            .to_string()
            .contains("takes no query keys"));
        assert!(matches!(
            e("sentinel://h1#x"),
            UrlError::UnexpectedFragment { .. }
        ));
    }
}
