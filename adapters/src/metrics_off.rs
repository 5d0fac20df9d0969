//! What the driver records without the `metrics` feature: nothing. The same calls as the
//! feature's module, each empty, so the driver has no `cfg` of its own and pays nothing.

use crate::driver::Driven;
use resp_sentinel_core::sentinel::{CommandError, Event, Machine, RequestId};
use resp_sentinel_core::Value;
use std::time::Instant;

/// Records nothing.
pub(crate) struct Metrics;

impl Metrics {
    #[inline(always)]
    pub(crate) fn new(_: &Driven) -> Metrics {
        Metrics
    }

    #[inline(always)]
    pub(crate) fn submitted(&mut self, _: RequestId, _: Instant) {}

    #[inline(always)]
    pub(crate) fn replied(&mut self, _: RequestId, _: &Result<Value, CommandError>) {}

    #[inline(always)]
    pub(crate) fn connect_failed(&mut self, _: bool) {}

    #[inline(always)]
    pub(crate) fn event(&mut self, _: &Event) {}

    #[inline(always)]
    pub(crate) fn queues(&mut self, _: &Machine) {}
}
