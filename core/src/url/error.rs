//! Why a target URL (or a target assembled from flags) was rejected.
//!
//! Every variant names the part of the URL that is wrong and why. Messages quote the offending
//! piece (at most its first 32 characters, control characters escaped), except in userinfo and
//! `*password*` query values: those are never echoed, neither in `Display` nor in `Debug`, so an
//! error can be logged without leaking a secret.

use super::UrlForm;
use std::fmt;

/// What is wrong with a target URL; `Display` gives a one-line message quoting the offending part.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The input is empty or only whitespace.
    Empty,
    /// The input does not start with `scheme://`.
    MissingScheme,
    /// The scheme contains characters a scheme cannot have (it is not echoed).
    BadScheme,
    /// Userinfo that cannot be told apart from the rest of the URL: two `@` in the authority,
    /// or an `@` after it (in the path, the fragment, or a query value that cannot hold one),
    /// most likely a password with an unencoded `/`, `?`, `#`, `@` (or `;` in a Celery list).
    /// Nothing of the URL is echoed.
    UnencodedUserinfo,
    /// A control character (C0, DEL or C1), raw or percent-encoded, in a part of the URL that
    /// may hold none (every part but passwords; raw ones nowhere). The text is not echoed.
    ControlCharacter {
        /// Which part of the URL (`URL` for a raw one anywhere).
        part: String,
    },
    /// The scheme is none of the accepted ones.
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
    },
    /// An entry of a host list is empty (`h1,,h2`, a trailing comma, or no host at all).
    EmptyHost {
        /// 1-based position of the entry in its list.
        index: usize,
    },
    /// A host is not a valid name or IP literal.
    BadHost {
        /// The host as written.
        host: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// A `map=` value is not an address rule (`announced=>dial`).
    BadAddressRule {
        /// Why, quoting the rule (query values with control characters are refused before).
        reason: String,
    },
    /// A port is not a number in 1-65535.
    BadPort {
        /// The port text as written.
        port: String,
    },
    /// The database number is not an integer in 0-4294967295.
    BadDb {
        /// The text as written.
        value: String,
    },
    /// `role=` is neither `master` nor `replica`.
    UnknownRole {
        /// The value as written.
        value: String,
    },
    /// `read_from=` is not a known policy.
    UnknownReadFrom {
        /// The value as written.
        value: String,
    },
    /// `is_master=` (django-redis) is neither `0` nor `1`.
    BadIsMaster {
        /// The value as written.
        value: String,
    },
    /// `protocol=` is neither `2` nor `3`.
    BadProtocol {
        /// The value as written.
        value: String,
    },
    /// A timeout value does not parse.
    BadTimeout {
        /// The query key that carried it.
        key: String,
        /// The value as written.
        value: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// A boolean query value is not one of `true`, `false`, `1`, `0`.
    BadBool {
        /// The query key.
        key: String,
        /// The value as written.
        value: String,
    },
    /// A query key this URL form does not know.
    UnknownQueryKey {
        /// The key as written.
        key: String,
        /// The form the URL was read as.
        form: UrlForm,
        /// Keys this form accepts.
        accepted: &'static [&'static str],
    },
    /// A query key that may appear once appears twice.
    DuplicateQueryKey {
        /// The key as written (second occurrence).
        key: String,
    },
    /// A query pair with an empty key (`?=x`).
    EmptyQueryKey,
    /// A `%` escape that is not `%` followed by two hex digits.
    BadPercentEscape {
        /// Which part of the URL (e.g. `password`, `service name`).
        part: String,
        /// The bad escape; `None` when the part is a secret and is not echoed.
        escape: Option<String>,
    },
    /// Percent-decoding produced bytes that are not UTF-8.
    InvalidUtf8 {
        /// Which part of the URL.
        part: String,
    },
    /// The path does not have the shape this form expects.
    BadPath {
        /// The path as written.
        path: String,
        /// What the form expects.
        expected: &'static str,
    },
    /// The service name is present but empty (`redis+sentinel://h//0`, `#` with nothing after).
    EmptyServiceName,
    /// Two places of the URL give different values for the same setting.
    Conflict {
        /// The setting and where it was given.
        what: &'static str,
        /// First value.
        first: String,
        /// Second value.
        second: String,
    },
    /// A django-style `redis://service/db` URL whose service name has a port.
    ServiceHasPort {
        /// The authority as written (host and port; never userinfo).
        authority: String,
    },
    /// A `#fragment` in a form that gives it no meaning.
    UnexpectedFragment {
        /// The form the URL was read as.
        form: UrlForm,
    },
    /// An error inside one `;`-separated Celery/Kombu segment.
    InSegment {
        /// 1-based segment number.
        index: usize,
        /// What is wrong in it.
        source: Box<UrlError>,
    },
    /// The target lacks what is needed to connect ([`super::SentinelTarget::validate`]).
    Incomplete {
        /// No sentinel address was given.
        no_sentinels: bool,
        /// No service (master) name was given.
        no_service: bool,
    },
    /// A username without a password: `AUTH` needs both.
    UsernameWithoutPassword {
        /// True for the sentinel credentials, false for the data-node ones.
        sentinel: bool,
    },
    /// A TLS query key (e.g. `tls_ca_file`) while neither side speaks TLS (a plain scheme
    /// and no `sentinel_tls=true`).
    TlsKeysWithoutTls {
        /// The key.
        key: &'static str,
    },
    /// A client certificate without its key, or a key without its certificate.
    TlsIncomplete {
        /// The key missing (`tls_key_file` or `tls_cert_file`).
        missing: &'static str,
    },
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use UrlError::*;
        match self {
            Empty => f.write_str("empty target URL"),
            MissingScheme => write!(
                f,
                "missing `scheme://` at the start of the URL; accepted schemes: {}",
                ACCEPTED_SCHEMES
            ),
            BadScheme => write!(
                f,
                "the part before `://` is not a scheme; accepted schemes: {ACCEPTED_SCHEMES}"
            ),
            UnencodedUserinfo => f.write_str(
                "ambiguous userinfo: an `@` where the URL cannot have one; a password with an \
                 unencoded `/`, `?`, `#`, `@` or `;` splits the URL in the wrong place. \
                 Percent-encode the password (`/` %2F, `?` %3F, `#` %23, `@` %40, `;` %3B) \
                 and any other `@` (%40). The text is not shown",
            ),
            ControlCharacter { part } if part == "URL" => f.write_str(
                "the URL contains a control character (a pasted escape sequence or line \
                 break?); remove it, or percent-encode it if a password holds it",
            ),
            ControlCharacter { part } => write!(
                f,
                "{part} contains a control character (not shown); only passwords may hold them"
            ),
            UnknownScheme { scheme } => {
                write!(f, "unknown scheme {}; accepted schemes: {ACCEPTED_SCHEMES}", Q(scheme))
            }
            EmptyHost { index } => write!(f, "empty host in host list (entry {index})"),
            BadHost { host, reason } => write!(f, "bad host {}: {reason}", Q(host)),
            BadPort { port } if port.is_empty() => {
                f.write_str("empty port after `:`: port must be 1-65535")
            }
            BadPort { port } => write!(f, "bad port {}: port must be 1-65535", Q(port)),
            BadDb { value } => write!(
                f,
                "bad database number {}: must be an integer 0-4294967295",
                Q(value)
            ),
            UnknownRole { value } => {
                write!(f, "unknown role {}: accepted values are `master` and `replica`", Q(value))
            }
            UnknownReadFrom { value } => write!(
                f,
                "unknown read_from {}: accepted values are `master`, `master_preferred`, \
                 `replica`, `replica_preferred`, `lowest_latency` and `any`",
                Q(value)
            ),
            BadIsMaster { value } => write!(
                f,
                "bad is_master value {}: must be `1` (master) or `0` (replica)",
                Q(value)
            ),
            BadProtocol { value } => {
                write!(f, "bad protocol {}: must be `2` (RESP2) or `3` (RESP3)", Q(value))
            }
            BadTimeout { key, value, reason } => write!(
                f,
                "bad {key} {}: {reason} (examples: `500ms`, `5s`, `1m30s`, `2` = 2 seconds)",
                Q(value)
            ),
            BadBool { key, value } => write!(
                f,
                "bad {key} value {}: must be `true`, `false`, `1` or `0`",
                Q(value)
            ),
            UnknownQueryKey {
                key,
                form,
                accepted: [],
            } => {
                write!(f, "unknown query key {}: a {form} URL takes no query keys", Q(key))
            }
            UnknownQueryKey { key, form, accepted } => write!(
                f,
                "unknown query key {} for a {form} URL; accepted keys: {}",
                Q(key),
                accepted.join(", ")
            ),
            BadAddressRule { reason } => write!(f, "bad `map=` value: {reason}"),
            DuplicateQueryKey { key } => write!(f, "query key {} appears more than once", Q(key)),
            EmptyQueryKey => f.write_str("query has a pair with an empty key (`=value`)"),
            BadPercentEscape { part, escape: Some(e) } => write!(
                f,
                "bad percent-escape {} in {part}: `%` must be followed by two hex digits",
                Q(e)
            ),
            BadPercentEscape { part, escape: None } => write!(
                f,
                "bad percent-escape in {part} (value not shown): `%` must be followed by two hex digits"
            ),
            InvalidUtf8 { part } => write!(f, "{part} is not UTF-8 after percent-decoding"),
            BadPath { path, expected } => write!(f, "bad path {}: expected {expected}", Q(path)),
            EmptyServiceName => f.write_str("empty service (master) name"),
            Conflict { what, first, second } => {
                write!(f, "conflicting {what}: {} and {}", Q(first), Q(second))
            }
            ServiceHasPort { authority } => write!(
                f,
                "{}: in a django-style redis://service/db URL the host part is the \
                 service name and takes no port; for go-redis add `master_name=`, for rueidis \
                 `master_set=`",
                Q(authority)
            ),
            UnexpectedFragment { form } => write!(
                f,
                "a `#fragment` has no meaning in a {form} URL (only redis-sentinel:// forms take \
                 the service name there)"
            ),
            InSegment { index, source } => write!(f, "in `;` segment {index}: {source}"),
            Incomplete { no_sentinels, no_service } => {
                let sentinels = "no sentinel address (list hosts in the URL or pass --sentinel h:p)";
                let service = "no service name (put it in the URL or pass --master NAME)";
                match (no_sentinels, no_service) {
                    (true, true) => write!(f, "{sentinels}; {service}"),
                    (true, false) => f.write_str(sentinels),
                    (false, true) => f.write_str(service),
                    (false, false) => f.write_str("incomplete target"),
                }
            }
            TlsKeysWithoutTls { key } => write!(
                f,
                "`{key}` is a TLS setting, but nothing speaks TLS: use a TLS scheme \
                 (rediss+sentinel://, valkeys+sentinel://...) or `sentinel_tls=true`"
            ),
            TlsIncomplete { missing } => write!(
                f,
                "a client certificate needs both `tls_cert_file` and `tls_key_file`; \
                 `{missing}` is missing"
            ),
            UsernameWithoutPassword { sentinel: true } => {
                f.write_str("sentinel username given without a sentinel password")
            }
            UsernameWithoutPassword { sentinel: false } => {
                f.write_str("username given without a password")
            }
        }
    }
}

impl std::error::Error for UrlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UrlError::InSegment { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// The accepted schemes, as listed in error messages.
pub(crate) const ACCEPTED_SCHEMES: &str = "redis+sentinel, rediss+sentinel, valkey+sentinel, \
     valkeys+sentinel, redis-sentinel, rediss-sentinel, valkey-sentinel, valkeys-sentinel, \
     sentinel (Celery/Kombu), redis, rediss, valkey, valkeys (django-redis, go-redis \
     `master_name=`, rueidis `master_set=`)";

/// Most characters of a URL part an error quotes.
const QUOTE_MAX: usize = 32;

/// A URL part as an error quotes it: in backticks, at most [`QUOTE_MAX`] characters (then
/// `...`), control characters and backticks escaped (`\x1b`, `\u{9b}`), so that a message never
/// carries a terminal escape sequence, a line break or a screenful of text.
struct Q<'a>(&'a str);

impl fmt::Display for Q<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`")?;
        for (i, c) in self.0.chars().enumerate() {
            if i == QUOTE_MAX {
                return f.write_str("`...");
            }
            match c {
                '`' => f.write_str("\\x60")?,
                c if (c as u32) < 0x80 && c.is_control() => write!(f, "\\x{:02x}", c as u32)?,
                c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("`")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_short_and_escaped() {
        let e = UrlError::BadHost {
            host: format!("a\u{1b}]0;t\u{7}\r\n\u{9b}`{}", "x".repeat(300)),
            reason: "r",
        };
        let msg = e.to_string();
        assert!(!msg.chars().any(char::is_control), "{msg}");
        assert!(
            msg.starts_with("bad host `a\\x1b]0;t\\x07\\x0d\\x0a\\u{9b}\\x60xx"),
            "{msg}"
        );
        assert!(msg.contains("`...: r") && msg.len() < 80, "{msg}");
        assert_eq!(
            UrlError::BadPort { port: "x".into() }.to_string(),
            "bad port `x`: port must be 1-65535"
        );
    }
}
