//! [`SentinelTarget::to_url`]: our canonical `redis+sentinel://` form.

use super::{percent::encode_into, values::format_timeout, Protocol, SentinelTarget};
use crate::sentinel::Role;

impl SentinelTarget {
    /// The target in our canonical form,
    /// `redis[s]+sentinel://[user:pass@]h1:p1[,h2:p2]/service[/db][?...]`, every text part
    /// percent-encoded. [`super::parse`] of the result gives back the same settings (with form
    /// [`super::UrlForm::RedisSentinel`]); a target without sentinels gives a URL that does not parse.
    /// The result contains the passwords: do not log it.
    pub fn to_url(&self) -> String {
        let mut url = String::from(if self.tls {
            "rediss+sentinel://"
        } else {
            "redis+sentinel://"
        });
        if self.username.is_some() || self.password.is_some() {
            if let Some(u) = &self.username {
                encode_into(&mut url, u);
            }
            url.push(':');
            if let Some(p) = &self.password {
                encode_into(&mut url, p.expose());
            }
            url.push('@');
        }
        for (i, a) in self.sentinels.iter().enumerate() {
            if i > 0 {
                url.push(',');
            }
            url.push_str(&a.to_string());
        }
        // A db without a service cannot be written in the path: it goes in the query.
        if let Some(s) = &self.service {
            url.push('/');
            encode_into(&mut url, s);
            if let Some(db) = self.db {
                url.push_str(&format!("/{db}"));
            }
        }
        let mut query: Vec<(&str, String)> = Vec::new();
        if self.service.is_none() {
            if let Some(db) = self.db {
                query.push(("db", db.to_string()));
            }
        }
        if let Some(u) = &self.sentinel_username {
            query.push(("sentinel_username", u.clone()));
        }
        if let Some(p) = &self.sentinel_password {
            query.push(("sentinel_password", p.expose().to_owned()));
        }
        if let Some(r) = self.role {
            query.push((
                "role",
                match r {
                    Role::Master => "master",
                    Role::Replica => "replica",
                }
                .to_owned(),
            ));
        }
        if let Some(r) = self.read_from {
            use crate::sentinel::ReadFrom;
            let v = match r {
                ReadFrom::Master => "master",
                ReadFrom::MasterPreferred => "master_preferred",
                ReadFrom::Replica => "replica",
                ReadFrom::ReplicaPreferred => "replica_preferred",
                ReadFrom::LowestLatency => "lowest_latency",
                ReadFrom::Any => "any",
            };
            query.push(("read_from", v.to_owned()));
        }
        if let Some(p) = self.protocol {
            query.push((
                "protocol",
                match p {
                    Protocol::Resp2 => "2",
                    Protocol::Resp3 => "3",
                }
                .to_owned(),
            ));
        }
        if let Some(t) = self.timeout {
            query.push(("timeout", format_timeout(t)));
        }
        for r in &self.address_map {
            query.push(("map", r.to_string()));
        }
        query.extend(self.tls_settings.query_pairs());
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(k);
            url.push('=');
            encode_into(&mut url, v);
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use crate::sentinel::{Addr, Role};
    use crate::url::{Protocol, SentinelTarget};
    use std::time::Duration;

    fn full() -> SentinelTarget {
        SentinelTarget::new()
            .with_sentinels([Addr::new("h1", 1), Addr::new("::1", 2)])
            .with_service("svc")
            .with_db(3)
            .with_username("app")
            .with_password("data-s3cret")
            .with_sentinel_username("sent")
            .with_sentinel_password("sent-s3cret")
            .with_role(Role::Replica)
            .with_protocol(Protocol::Resp3)
            .with_timeout(Duration::from_millis(1500))
    }

    #[test]
    fn to_url_encodes_everything() {
        let url = full().with_password("p@ss:w/rd&x").to_url();
        assert_eq!(
            url,
            "redis+sentinel://app:p%40ss%3Aw%2Frd%26x@h1:1,[::1]:2/svc/3?sentinel_username=sent\
             &sentinel_password=sent-s3cret&role=replica&protocol=3&timeout=1500ms"
        );
        assert!(full()
            .with_tls(true)
            .to_url()
            .starts_with("rediss+sentinel://"));
    }

    #[test]
    fn db_without_service_goes_in_the_query() {
        let t = SentinelTarget::new()
            .with_sentinels([Addr::new("h", 1)])
            .with_db(2);
        assert_eq!(t.to_url(), "redis+sentinel://h:1?db=2");
    }
}
