//! Splits a URL into scheme, userinfo, host part, path, query and fragment, and decodes userinfo.

use super::{percent, Secret, UrlError};
use std::fmt;

/// The raw pieces of one URL; only the scheme is normalised (ASCII lowercase). `Debug` does
/// not show the userinfo.
pub(crate) struct Parts<'a> {
    /// Lowercased scheme.
    pub scheme: String,
    /// Text before the `@` of the authority, if any.
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

impl fmt::Debug for Parts<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parts")
            .field("scheme", &self.scheme)
            .field("userinfo", &self.userinfo.map(|_| "***"))
            .field("hosts", &self.hosts)
            .field("path", &self.path)
            .field("query", &self.query)
            .field("fragment", &self.fragment)
            .finish()
    }
}

/// The scheme of `url`, lowercased: the text before `://`, which must start with a letter and
/// hold only letters, digits, `+`, `-` and `.`.
pub(crate) fn scheme(url: &str) -> Result<String, UrlError> {
    let (scheme, _) = url.split_once("://").ok_or(UrlError::MissingScheme)?;
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
    Ok(scheme.to_ascii_lowercase())
}

/// Query keys whose values may hold an unencoded `@` (credentials, names). Anywhere else an
/// `@` after the authority is read as the end of a password with an unencoded `/`, `?` or `#`.
const AT_KEYS: &[&str] = &[
    "sentinel_password",
    "sentinel_username",
    "sentinelpassword",
    "sentinelusername",
    "password",
    "username",
    "master_name",
    "master_set",
    "sentinelmasterid",
    "sentinelservicename",
    "client_name",
    "clientname",
];

/// Splits `url` the way RFC 3986 does, except that a list of hosts may stand where one host
/// would. The authority ends at the first `/`, `?` or `#`; userinfo ends at its `@`.
///
/// Refuses ([`UrlError::UnencodedUserinfo`], which shows nothing of the URL) every URL whose
/// userinfo cannot be told apart from the rest: two `@` in the authority, or an `@` after it
/// that is not in the value of a query key that may hold one (a password with an unencoded
/// `/`, `?` or `#` cuts the authority short and leaves its tail and the `@` behind). This runs
/// before anything else reads the URL, so no part of such a password reaches an error message
/// or becomes a host.
pub(crate) fn split(url: &str) -> Result<Parts<'_>, UrlError> {
    let scheme = scheme(url)?;
    let rest = &url[url.find("://").map_or(0, |i| i + 3)..];
    check_userinfo_is_unambiguous(rest)?;
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
    let (userinfo, hosts) = match authority.split_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    Ok(Parts {
        scheme,
        userinfo,
        hosts,
        path,
        query,
        fragment,
    })
}

/// See [`split`]: `rest` is the URL after `scheme://`.
fn check_userinfo_is_unambiguous(rest: &str) -> Result<(), UrlError> {
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    if authority.matches('@').count() > 1 {
        return Err(UrlError::UnencodedUserinfo);
    }
    if !tail.contains('@') {
        return Ok(());
    }
    let (before_fragment, fragment) = tail.split_once('#').unwrap_or((tail, ""));
    let (path, query) = before_fragment
        .split_once('?')
        .unwrap_or((before_fragment, ""));
    if path.contains('@') || fragment.contains('@') {
        return Err(UrlError::UnencodedUserinfo);
    }
    let mut at_in_query = false;
    for pair in query.split('&').filter(|p| p.contains('@')) {
        at_in_query = true;
        let Some((key, _)) = pair.split_once('=') else {
            return Err(UrlError::UnencodedUserinfo);
        };
        let key = percent::decode(key, "query key", false, true).unwrap_or_default();
        if !AT_KEYS.iter().any(|k| k.eq_ignore_ascii_case(&key)) {
            return Err(UrlError::UnencodedUserinfo);
        }
    }
    // `u:pa?sentinel_password=x@h`: the `@` sits in a value that may hold one, but with no
    // userinfo before it the authority reads `user:pass` (or `:pass`), not hosts.
    if at_in_query && !authority.contains('@') && looks_like_userinfo(authority) {
        return Err(UrlError::UnencodedUserinfo);
    }
    Ok(())
}

/// Whether the authority of `url` (after `scheme://`, up to `/`, `?` or `#`) has no `@` and
/// reads like userinfo (see [`looks_like_userinfo`]).
pub(crate) fn authority_looks_like_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    !authority.contains('@') && looks_like_userinfo(authority)
}

/// An authority with an entry `:text` or `host:text` whose text is not a port number.
fn looks_like_userinfo(authority: &str) -> bool {
    authority.split(',').any(|entry| {
        if entry.starts_with('[') {
            return false;
        }
        match entry.split_once(':') {
            Some(("", _)) => true,
            Some((_, port)) => !port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()),
            None => false,
        }
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
    let user_part = format!("{who} username");
    let user = percent::decode(user, &user_part, true, false)?;
    if user.chars().any(char::is_control) {
        return Err(UrlError::ControlCharacter { part: user_part });
    }
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
        let p = split("Redis+Sentinel://u:p%40w@h1:1,h2/svc/0?a=b#frag").unwrap();
        assert_eq!(p.scheme, "redis+sentinel");
        assert_eq!(p.userinfo, Some("u:p%40w"));
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
            // `=` or `&` before the `@` (base64 passwords end in `=`) changes nothing.
            "redis+sentinel://:Zm9v/QmFy=@h/s",
            "redis+sentinel://u:ab?c=d@h/s",
            "redis+sentinel://u:ab#x&y=z@h/s",
            "redis+sentinel://pass/x=@h/0",
            "redis+sentinel://u:p@ss@h/s",
            "redis+sentinel://h/s?a=1&b=p@ss",
            "redis+sentinel://h/s?a@b",
            "redis+sentinel://u:ab?sentinel_password=x@h/s",
            "redis+sentinel://:ab?sentinel_password=x@h/s",
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
        assert!(split("redis+sentinel://u:p@h/s?sentinel_password=p@ss").is_ok());
        assert!(split("redis+sentinel://h:1,[::1]:2/s?sentinel_password=p@ss").is_ok());
        assert!(split("redis://h?master_name=m&Password=p@ss&username=me@corp").is_ok());
        assert!(split("redis+sentinel://u:p%2F%3F%23%40@h/s").is_ok());
        // The userinfo is not in `Debug`.
        let p = split("redis+sentinel://u:s3cret@h/s").unwrap();
        assert!(!format!("{p:?}").contains("s3cret"));
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
