//! Query strings: `key=value` pairs separated by `&`, with duplicate and unknown-key checks.

use super::{percent, UrlError, UrlForm};

/// The pairs of one query string; values stay raw until taken, so secrets are decoded (and
/// reported) as secrets.
#[derive(Debug)]
pub(crate) struct Query {
    /// (decoded key, raw value, taken)
    pairs: Vec<(String, String, bool)>,
    case_insensitive: bool,
}

impl Query {
    /// Splits `raw` into pairs. A key that is not in `repeatable` may appear once.
    /// With `case_insensitive`, keys compare without regard to ASCII case.
    pub(crate) fn parse(
        raw: Option<&str>,
        case_insensitive: bool,
        repeatable: &[&str],
    ) -> Result<Query, UrlError> {
        let mut pairs: Vec<(String, String, bool)> = Vec::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key = percent::decode(k, "query key", false, true)?;
            if key.is_empty() {
                return Err(UrlError::EmptyQueryKey);
            }
            let same = |a: &str, b: &str| {
                if case_insensitive {
                    a.eq_ignore_ascii_case(b)
                } else {
                    a == b
                }
            };
            let repeat_ok = repeatable.iter().any(|r| same(r, &key));
            if !repeat_ok && pairs.iter().any(|(k2, _, _)| same(k2, &key)) {
                return Err(UrlError::DuplicateQueryKey { key });
            }
            pairs.push((key, v.to_owned(), false));
        }
        Ok(Query {
            pairs,
            case_insensitive,
        })
    }

    fn matches(&self, a: &str, b: &str) -> bool {
        if self.case_insensitive {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    /// Whether `key` is present (not yet taken or already taken).
    pub(crate) fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _, _)| self.matches(k, key))
    }

    /// Removes and decodes the value of a key that appears at most once.
    pub(crate) fn take(&mut self, key: &str) -> Result<Option<String>, UrlError> {
        Ok(self.take_all(key)?.into_iter().next())
    }

    /// Removes and decodes every value of `key`, in order.
    pub(crate) fn take_all(&mut self, key: &str) -> Result<Vec<String>, UrlError> {
        let secret = key.to_ascii_lowercase().contains("password");
        let ci = self.case_insensitive;
        let mut out = Vec::new();
        for (k, v, taken) in &mut self.pairs {
            let hit = if ci {
                k.eq_ignore_ascii_case(key)
            } else {
                k == key
            };
            if hit && !*taken {
                *taken = true;
                out.push(percent::decode(v, &format!("`{key}` value"), secret, true)?);
            }
        }
        Ok(out)
    }

    /// Checks that every key left is in `ignored` (accepted, without effect) and returns those
    /// keys; any other key is an [`UrlError::UnknownQueryKey`] listing `accepted`.
    pub(crate) fn finish(
        self,
        form: UrlForm,
        accepted: &'static [&'static str],
        ignored: &[&str],
    ) -> Result<Vec<String>, UrlError> {
        let mut ignored_found = Vec::new();
        for (k, _, taken) in &self.pairs {
            if *taken {
                continue;
            }
            if ignored.iter().any(|i| self.matches(i, k)) {
                ignored_found.push(k.clone());
            } else {
                return Err(UrlError::UnknownQueryKey {
                    key: k.clone(),
                    form,
                    accepted,
                });
            }
        }
        Ok(ignored_found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPTED: &[&str] = &["a", "node"];

    #[test]
    fn takes_values_and_reports_leftovers() {
        let mut q = Query::parse(Some("a=1&&node=x&node=y&c=%20&b"), false, &["node"]).unwrap();
        assert_eq!(q.take("a").unwrap(), Some("1".into()));
        assert_eq!(q.take("a").unwrap(), None);
        assert_eq!(q.take_all("node").unwrap(), vec!["x", "y"]);
        assert!(q.has("b"));
        let err = Query::parse(Some("zz=1"), false, &[])
            .unwrap()
            .finish(UrlForm::RedisSentinel, ACCEPTED, &[])
            .unwrap_err();
        assert_eq!(
            err,
            UrlError::UnknownQueryKey {
                key: "zz".into(),
                form: UrlForm::RedisSentinel,
                accepted: ACCEPTED
            }
        );
        assert!(err.to_string().contains("accepted keys: a, node"), "{err}");
        assert_eq!(
            q.finish(UrlForm::RedisSentinel, ACCEPTED, &["b", "c"])
                .unwrap(),
            vec!["c", "b"]
        );
    }

    #[test]
    fn duplicates_and_empty_keys() {
        assert_eq!(
            Query::parse(Some("a=1&a=2"), false, &[]).unwrap_err(),
            UrlError::DuplicateQueryKey { key: "a".into() }
        );
        assert_eq!(
            Query::parse(Some("Ab=1&aB=2"), true, &[]).unwrap_err(),
            UrlError::DuplicateQueryKey { key: "aB".into() }
        );
        assert!(Query::parse(Some("Ab=1&aB=2"), false, &[]).is_ok());
        assert_eq!(
            Query::parse(Some("=1"), false, &[]).unwrap_err(),
            UrlError::EmptyQueryKey
        );
    }

    #[test]
    fn secret_values_are_not_echoed() {
        let mut q = Query::parse(Some("sentinelPassword=ab%zzcd"), true, &[]).unwrap();
        let err = q.take("sentinelpassword").unwrap_err();
        assert_eq!(
            err,
            UrlError::BadPercentEscape {
                part: "`sentinelpassword` value".into(),
                escape: None
            }
        );
        let mut q = Query::parse(Some("service=ab%zz"), false, &[]).unwrap();
        assert!(q.take("service").unwrap_err().to_string().contains("%zz"));
    }

    #[test]
    fn values_decode_plus_and_escapes() {
        let mut q = Query::parse(Some("p=a+b%2Bc%26"), false, &[]).unwrap();
        assert_eq!(q.take("p").unwrap(), Some("a b+c&".into()));
    }
}
