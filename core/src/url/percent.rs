//! Percent-decoding of URL parts and percent-encoding for [`super::SentinelTarget::to_url`].

use super::UrlError;

/// Decodes `%XX` escapes in `input`; with `plus_as_space`, `+` becomes a space (query
/// convention of form encoding, as Go, Python and Java read query strings).
///
/// `part` names the URL part in errors; a `secret` part's bad escape is not echoed. A part
/// that is not `secret` may not hold control characters (C0, DEL, C1), encoded or not: such
/// text could rewrite a terminal when printed.
pub(crate) fn decode(
    input: &str,
    part: &str,
    secret: bool,
    plus_as_space: bool,
) -> Result<String, UrlError> {
    let out = decode_any(input, part, secret, plus_as_space)?;
    if !secret && out.chars().any(char::is_control) {
        return Err(UrlError::ControlCharacter {
            part: part.to_owned(),
        });
    }
    Ok(out)
}

fn decode_any(
    input: &str,
    part: &str,
    secret: bool,
    plus_as_space: bool,
) -> Result<String, UrlError> {
    let bytes = input.as_bytes();
    if !(bytes.contains(&b'%') || plus_as_space && bytes.contains(&b'+')) {
        return Ok(input.to_owned());
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).copied().and_then(hex);
                let lo = bytes.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => {
                        out.push(hi << 4 | lo);
                        i += 3;
                    }
                    _ => {
                        let end = (i + 3).min(bytes.len());
                        // The escape may cut a multi-byte character: show it lossily.
                        let shown = String::from_utf8_lossy(&bytes[i..end]).into_owned();
                        return Err(UrlError::BadPercentEscape {
                            part: part.to_owned(),
                            escape: (!secret).then_some(shown),
                        });
                    }
                }
            }
            b'+' if plus_as_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| UrlError::InvalidUtf8 {
        part: part.to_owned(),
    })
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends `s` to `out`, escaping every byte except RFC 3986 unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), so the result is safe in userinfo, path, query and fragment.
pub(crate) fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 0xF)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_keeps_plain_text() {
        assert_eq!(decode("a%40b%3Ac", "x", false, false).unwrap(), "a@b:c");
        assert_eq!(decode("plain", "x", false, false).unwrap(), "plain");
        assert_eq!(decode("%E2%82%AC", "x", false, false).unwrap(), "€");
    }

    #[test]
    fn plus_is_space_only_in_query_mode() {
        assert_eq!(decode("a+b", "x", false, true).unwrap(), "a b");
        assert_eq!(decode("a+b", "x", false, false).unwrap(), "a+b");
        assert_eq!(decode("a%2Bb", "x", false, true).unwrap(), "a+b");
    }

    #[test]
    fn bad_escape_is_quoted_unless_secret() {
        assert_eq!(
            decode("ab%zz", "service name", false, false),
            Err(UrlError::BadPercentEscape {
                part: "service name".into(),
                escape: Some("%zz".into())
            })
        );
        assert_eq!(
            decode("ab%4", "password", true, false),
            Err(UrlError::BadPercentEscape {
                part: "password".into(),
                escape: None
            })
        );
        let msg = decode("s3cr%t", "password", true, false)
            .unwrap_err()
            .to_string();
        assert!(!msg.contains("s3cr"), "{msg}");
    }

    #[test]
    fn escape_cut_in_a_multibyte_char_does_not_panic() {
        assert!(decode("%é", "x", false, false).is_err());
        assert!(decode("%", "x", false, false).is_err());
    }

    #[test]
    fn control_characters_are_refused_unless_secret() {
        for raw in ["a%1Bb", "a%0D%0Ab", "a\u{1b}b", "%7F", "%C2%9B", "a%00"] {
            assert_eq!(
                decode(raw, "service name", false, false),
                Err(UrlError::ControlCharacter {
                    part: "service name".into()
                }),
                "{raw}"
            );
        }
        assert_eq!(
            decode("p%1Bw", "password", true, false).unwrap(),
            "p\u{1b}w"
        );
        assert_eq!(decode("tab%09", "x", true, true).unwrap(), "tab\t");
    }

    #[test]
    fn invalid_utf8_is_reported() {
        assert_eq!(
            decode("%FF", "service name", false, false),
            Err(UrlError::InvalidUtf8 {
                part: "service name".into()
            })
        );
    }

    #[test]
    fn encode_round_trips() {
        let raw = "p@ss:w/rd?#&= +%€~";
        let mut enc = String::new();
        encode_into(&mut enc, raw);
        assert!(enc
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
        assert_eq!(decode(&enc, "x", false, true).unwrap(), raw);
        assert_eq!(decode(&enc, "x", false, false).unwrap(), raw);
    }
}
