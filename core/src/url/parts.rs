//! Splits a URL into scheme, userinfo, host part, path, query and fragment, and decodes userinfo.

use super::{percent, Secret, UrlError};

/// The raw pieces of one URL; only the scheme is normalised (ASCII lowercase).
#[derive(Debug)]
pub(crate) struct Parts<'a> {
    /// Lowercased scheme.
    pub scheme: String,
    /// Text before the last `@` of the authority, if any.
    pub userinfo: Option<&'a str>,
    /// Authority without userinfo: one host or a comma-separated list.
    pub hosts: &'a str,
    /// From the first `/` after the authority up to `?` or `#` (may be empty).
    pub path: &'a str,
    /// Text after `?`, without the fragment.
    pub query: Option<&'a str>,
    /// Text after `#`.
    pub fragment: Option<&'a str>,
}

/// Splits `url` the way RFC 3986 does, except that a list of hosts may stand where one host
/// would. The authority ends at the first `/`, `?` or `#`; userinfo ends at its last `@`.
pub(crate) fn split(url: &str) -> Result<Parts<'_>, UrlError> {
    let (scheme, rest) = url.split_once("://").ok_or(UrlError::MissingScheme)?;
    let valid_scheme = scheme
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !valid_scheme {
        return Err(if scheme.is_empty() {
            UrlError::MissingScheme
        } else {
            UrlError::BadScheme
        });
    }
    // A password with an unencoded `/`, `?` or `#` cuts the authority short and leaves its
    // tail (and the `@`) behind; refuse before any part of it can be echoed in an error.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if !rest[..authority_end].contains('@') {
        if let Some(at) = rest[authority_end..].find('@') {
            let before = &rest[authority_end..authority_end + at];
            if !before.contains(['=', '&']) {
                return Err(UrlError::UnencodedUserinfo);
            }
        }
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (rest, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    Ok(Parts {
        scheme: scheme.to_ascii_lowercase(),
        userinfo,
        hosts,
        path,
        query,
        fragment,
    })
}

/// Username and password from userinfo.
///
/// `user:pass` gives both, `:pass` only a password, and text without a colon is a password
/// (as Lettuce and redis-cli read it). Empty pieces are `None`.
pub(crate) fn userinfo(
    raw: Option<&str>,
    who: &str,
) -> Result<(Option<String>, Option<Secret>), UrlError> {
    let Some(raw) = raw else {
        return Ok((None, None));
    };
    let (user, pass) = match raw.split_once(':') {
        Some((u, p)) => (u, p),
        None => ("", raw),
    };
    let user = percent::decode(user, &format!("{who} username"), true, false)?;
    let pass = percent::decode(pass, &format!("{who} password"), true, false)?;
    Ok((
        (!user.is_empty()).then_some(user),
        (!pass.is_empty()).then(|| Secret::new(pass)),
    ))
}

/// Path segments after the leading `/`: `""` and `"/"` give none, `"/a/b"` gives `["a", "b"]`.
pub(crate) fn segments(path: &str) -> Vec<&str> {
    match path.strip_prefix('/') {
        None | Some("") => Vec::new(),
        Some(rest) => rest.split('/').collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_all_parts() {
        let p = split("Redis+Sentinel://u:p@w@h1:1,h2/svc/0?a=b#frag").unwrap();
        assert_eq!(p.scheme, "redis+sentinel");
        assert_eq!(p.userinfo, Some("u:p@w"));
        assert_eq!(p.hosts, "h1:1,h2");
        assert_eq!(p.path, "/svc/0");
        assert_eq!(p.query, Some("a=b"));
        assert_eq!(p.fragment, Some("frag"));
    }

    #[test]
    fn minimal_and_odd_urls() {
        let p = split("redis://svc").unwrap();
        assert_eq!(
            (p.userinfo, p.hosts, p.path, p.query, p.fragment),
            (None, "svc", "", None, None)
        );
        let p = split("x://#f?notquery").unwrap();
        assert_eq!(
            (p.hosts, p.query, p.fragment),
            ("", None, Some("f?notquery"))
        );
        assert_eq!(split("h:1").unwrap_err(), UrlError::MissingScheme);
        assert_eq!(split("://h").unwrap_err(), UrlError::MissingScheme);
        assert_eq!(split("1x://h").unwrap_err(), UrlError::BadScheme);
        assert_eq!(split("u:p@h://x").unwrap_err(), UrlError::BadScheme);
        for leaky in [
            "redis+sentinel://u:pa/ss@h/s",
            "redis+sentinel://u:pa?ss@h/s",
            "redis+sentinel://u:pa#ss@h/s",
            "redis+sentinel://h/s@x",
        ] {
            assert_eq!(
                split(leaky).unwrap_err(),
                UrlError::UnencodedUserinfo,
                "{leaky}"
            );
        }
        // An `@` in a query value or after a `=` is fine.
        assert!(split("redis+sentinel://h/s?sentinel_password=p@ss").is_ok());
        assert!(split("redis+sentinel://h/s?a=1&sentinel_password=p@ss").is_ok());
        assert!(split("redis+sentinel://u:p@h/s?x=p@ss").is_ok());
    }

    #[test]
    fn userinfo_shapes() {
        let u = |s| userinfo(Some(s), "data").unwrap();
        let pw = |s: &str| Some(Secret::new(s));
        assert_eq!(u("user:pass"), (Some("user".into()), pw("pass")));
        assert_eq!(u(":pass"), (None, pw("pass")));
        assert_eq!(u("pass"), (None, pw("pass")));
        assert_eq!(u("user:"), (Some("user".into()), None));
        assert_eq!(u("a%40b:p%3Aw:x"), (Some("a@b".into()), pw("p:w:x")));
        assert_eq!(u("a+b:c+d"), (Some("a+b".into()), pw("c+d")));
        assert_eq!(userinfo(None, "data").unwrap(), (None, None));
        let err = userinfo(Some("u:se%zzcret"), "data").unwrap_err();
        assert_eq!(
            err,
            UrlError::BadPercentEscape {
                part: "data password".into(),
                escape: None
            }
        );
    }

    #[test]
    fn path_segments() {
        assert!(segments("").is_empty());
        assert!(segments("/").is_empty());
        assert_eq!(segments("/a"), vec!["a"]);
        assert_eq!(segments("/a/0"), vec!["a", "0"]);
        assert_eq!(segments("//0"), vec!["", "0"]);
        assert_eq!(segments("/a/"), vec!["a", ""]);
    }
}
