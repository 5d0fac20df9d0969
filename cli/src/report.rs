//! The drill's figures, as a human summary or one JSON line.

use crate::escape::escape;
use resp_sentinel::core::sentinel::Addr;
use std::fmt::Write;
use std::time::Duration;

/// Everything the drill measured.
#[derive(Debug, Default)]
pub struct Report {
    /// INCRs sent.
    pub attempted: u64,
    /// INCRs acknowledged.
    pub ok: u64,
    /// INCRs that failed.
    pub errors: u64,
    /// Longest time between two acknowledged writes.
    pub longest_failure_window_ms: u64,
    /// From the failover trigger to the first write acknowledged by the new master.
    pub trigger_to_first_new_master_write_ms: Option<u64>,
    /// Writes the old master acknowledged after the trigger (what a fence-less client loses).
    pub old_master_acks_after_trigger: u64,
    /// Acknowledged increments missing from the final counter.
    pub acked_lost: u64,
    /// The counter's final value on the current master.
    pub final_value: i64,
    /// Master before the drill.
    pub old_master: Option<Addr>,
    /// Master after the drill.
    pub new_master: Option<Addr>,
    /// Runtime that drove the client.
    pub runtime: &'static str,
    /// Wall time of the write loop.
    pub elapsed: Duration,
    /// The last error a write returned.
    pub last_error: Option<String>,
    /// Why the failover could not be triggered.
    pub trigger_error: Option<String>,
}

impl Report {
    /// An empty report for `runtime`.
    pub fn new(runtime: &'static str) -> Report {
        Report {
            runtime,
            ..Report::default()
        }
    }

    /// Acknowledged writes per second over the loop.
    pub fn ops_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The report as one JSON object on one line.
    pub fn to_json(&self) -> String {
        let addr = |a: &Option<Addr>| match a {
            Some(a) => json_str(&a.to_string()),
            None => "null".into(),
        };
        let mut s = String::from("{");
        let _ = write!(
            s,
            "\"attempted\":{},\"ok\":{},\"errors\":{},\"longest_failure_window_ms\":{},\
             \"trigger_to_first_new_master_write_ms\":{},\"old_master_acks_after_trigger\":{},\
             \"acked_lost\":{},\"ops_per_sec\":{:.1},\"old_master\":{},\"new_master\":{},\
             \"runtime\":{},\"final_value\":{}",
            self.attempted,
            self.ok,
            self.errors,
            self.longest_failure_window_ms,
            self.trigger_to_first_new_master_write_ms
                .map_or("null".into(), |v| v.to_string()),
            self.old_master_acks_after_trigger,
            self.acked_lost,
            self.ops_per_sec(),
            addr(&self.old_master),
            addr(&self.new_master),
            json_str(self.runtime),
            self.final_value,
        );
        if let Some(e) = &self.trigger_error {
            let _ = write!(s, ",\"trigger_error\":{}", json_str(e));
        }
        s.push('}');
        s
    }

    /// A few lines for people.
    pub fn to_text(&self) -> String {
        let addr = |a: &Option<Addr>| {
            a.as_ref()
                .map_or("(unknown)".into(), |a| escape(&a.to_string()).into_owned())
        };
        let mut s = String::new();
        let _ = writeln!(s, "failover drill ({} runtime)", self.runtime);
        let _ = writeln!(
            s,
            "  master             {} -> {}",
            addr(&self.old_master),
            addr(&self.new_master)
        );
        let _ = writeln!(
            s,
            "  writes             {} attempted, {} acknowledged, {} failed ({:.0} ops/s)",
            self.attempted,
            self.ok,
            self.errors,
            self.ops_per_sec()
        );
        let _ = writeln!(
            s,
            "  longest gap        {} ms between acknowledged writes",
            self.longest_failure_window_ms
        );
        match self.trigger_to_first_new_master_write_ms {
            Some(ms) => {
                let _ = writeln!(
                    s,
                    "  recovery           first write on the new master {ms} ms after the trigger"
                );
            }
            None => {
                let _ = writeln!(s, "  recovery           no write reached a new master");
            }
        }
        let _ = writeln!(
            s,
            "  old master acks    {} after the trigger",
            self.old_master_acks_after_trigger
        );
        let _ = writeln!(
            s,
            "  acknowledged lost  {} (final counter {})",
            self.acked_lost, self.final_value
        );
        if let Some(e) = &self.trigger_error {
            let _ = writeln!(s, "  trigger failed     {}", escape(e));
        }
        if let Some(e) = &self.last_error {
            let _ = writeln!(s, "  last error         {}", escape(e));
        }
        s
    }
}

/// A JSON string literal; every control character (C0, DEL, C1) is a `\u` escape.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_field_once() {
        let mut r = Report::new("tokio");
        r.ok = 10;
        r.old_master = Some(Addr::new("127.0.0.1", 7000));
        r.trigger_error = Some("bad \"quote\"".into());
        let j = r.to_json();
        for key in [
            "attempted",
            "ok",
            "errors",
            "longest_failure_window_ms",
            "trigger_to_first_new_master_write_ms",
            "old_master_acks_after_trigger",
            "acked_lost",
            "ops_per_sec",
            "old_master",
            "new_master",
            "runtime",
        ] {
            assert_eq!(j.matches(&format!("\"{key}\":")).count(), 1, "{key} in {j}");
        }
        assert!(j.contains("\"old_master\":\"127.0.0.1:7000\""));
        assert!(j.contains("\"new_master\":null"));
        assert!(j.contains("bad \\\"quote\\\""));
        assert!(!j.contains('\n'));
    }

    #[test]
    fn server_text_is_escaped_in_both_forms() {
        let mut r = Report::new("tokio");
        r.old_master = Some(Addr::new("h\u{1b}]0;x\u{7}", 1));
        r.last_error = Some("ERR \u{1b}[2J\r\nforged\u{7f}\u{9b}".into());
        r.trigger_error = Some("no \u{1b}[2J\r\nforged\u{7f}\u{9b}".into());
        for out in [r.to_json(), r.to_text()] {
            let body = out.trim_end_matches('\n');
            assert!(
                !body.chars().any(|c| c.is_control() && c != '\n'),
                "{out:?}"
            );
            assert!(!body.contains("\nforged"), "{out:?}");
        }
        assert!(r
            .to_json()
            .contains("\\u001b[2J\\u000d\\u000aforged\\u007f\\u009b"));
    }
}
