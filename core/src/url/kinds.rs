//! Small enums of a target: RESP version and the URL form it came from.

use std::fmt;

/// RESP protocol version to negotiate: the same type the client configuration uses.
pub use crate::sentinel::Protocol;

/// Which ecosystem's syntax a target was read from; it decides whom the userinfo authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UrlForm {
    /// `redis+sentinel://`, `valkey+sentinel://` and their TLS variants (our canonical form).
    RedisSentinel,
    /// Celery/Kombu `sentinel://...;sentinel://...`.
    Kombu,
    /// django-redis `redis://service/db?is_master=0|1`.
    Django,
    /// Lettuce / fred `redis-sentinel://...` and variants.
    LettuceFred,
    /// go-redis `ParseFailoverURL`: `redis://...?master_name=X`.
    GoRedis,
    /// rueidis `redis://...?master_set=X`.
    Rueidis,
    /// No URL: the target was built from flags only.
    Flags,
}

impl fmt::Display for UrlForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlForm::RedisSentinel => "redis+sentinel",
            UrlForm::Kombu => "Celery/Kombu sentinel://",
            UrlForm::Django => "django-redis",
            UrlForm::LettuceFred => "Lettuce/fred redis-sentinel",
            UrlForm::GoRedis => "go-redis (master_name=)",
            UrlForm::Rueidis => "rueidis (master_set=)",
            UrlForm::Flags => "flags-only",
        })
    }
}
